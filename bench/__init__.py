"""tlsfast's benchmark suite: tlsfast (c), tlsfast (python), stdlib ``ssl``,
pyOpenSSL and a C floor (``c_floor.c``, straight libssl) doing the same work.

Run it with ``python -m bench [--quick] [--only PATTERN] [--reps N]
[--out DIR]`` from a source checkout (``make bench`` installs the extras).

Modules, named for what they measure:

``percall``    per-call costs: ``recv_into(64)`` of decrypted data, want-read
               (exception path and fast path), one record from the kernel;
``stream``     one-way streams (socketpair, TCP loopback), bulk 64 KiB;
``pingpong``   round trips over TCP loopback, and the same loop without TLS;
``echo``       a ``selectors`` echo server with 1 / 100 / 1,000 connections;
``handshake``  full handshakes per second (RSA-2048, ECDSA P-256);
``membio``     memory-BIO stream and handshake;
``memory``     RSS per idle connection at 1,000 and 10,000 connections;
``common``     TLS settings, certificates, the five implementations;
``cfloor``     building and driving the C floor;
``runner``     the round-robin, the medians, the ratios;
``report``     the environment, terminal table, JSON, Markdown, PNG.
"""
