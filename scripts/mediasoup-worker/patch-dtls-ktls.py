#!/usr/bin/env python3
"""Patch mediasoup's worker/src/RTC/DtlsTransport.cpp for an OpenSSL with kTLS.

Why: mediasoup installs a callback on the DTLS write BIO (onSslBioOut) that
returns 1 for every "after the operation" call that is not a plain
BIO_CB_RETURN, including control queries (BIO_CB_CTRL | BIO_CB_RETURN).
Debian's libssl is built with kTLS; it asks the write BIO
BIO_CTRL_GET_KTLS_SEND, receives 1, believes kTLS is active, never allocates
its DTLS write buffer and the worker segfaults in do_dtls1_write() at the first
ServerHello. mediasoup's bundled OpenSSL has no kTLS, so upstream never hits
it. The fix passes libssl's real answer through for the two kTLS queries (the
ctrl command arrives in the callback's `argi`).

Usage: patch-dtls-ktls.py <path/to/DtlsTransport.cpp>

Idempotent (a patched file is verified and left alone). Exits non-zero with a
message if the code no longer has the expected shape, so a new mediasoup
version cannot silently build without the fix.
"""

import re
import sys

MARKER = "LIVE_COMMERCE_KTLS_PATCH"

# The callback's signature: the unnamed `argi` parameter must get a name.
SIGNATURE_RE = re.compile(
    r"(inline static long onSslBioOut\(\s*BIO\* bio,\s*int operationType,\s*"
    r"const char\* argp,\s*size_t len,\s*)int /\*argi\*/,"
)

# The line that computes the callback's result; the fix goes right before it.
RESULT_RE = re.compile(
    r"^(?P<indent>[ \t]*)const long resultOfcallback = \(operationType == BIO_CB_RETURN\) "
    r"\? static_cast<long>\(ret\) : 1;$",
    re.MULTILINE,
)

FIX_TEMPLATE = """{i}// {marker}: with a kTLS-enabled libssl (Debian's), answering 1 to
{i}// BIO_CTRL_GET_KTLS_SEND/RECV makes libssl skip allocating its DTLS write
{i}// buffer and crash in do_dtls1_write(). Return libssl's own answer for them.
{i}if (
{i}  operationType == (BIO_CB_CTRL | BIO_CB_RETURN) &&
{i}  (argi == BIO_CTRL_GET_KTLS_SEND || argi == BIO_CTRL_GET_KTLS_RECV))
{i}{{
{i}\treturn static_cast<long>(ret);
{i}}}

"""


def fail(message: str) -> None:
    print(f"patch-dtls-ktls: ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def is_patched(text: str) -> bool:
    return (
        MARKER in text
        and re.search(r"onSslBioOut\([^)]*\bint argi,", text) is not None
        and "argi == BIO_CTRL_GET_KTLS_SEND || argi == BIO_CTRL_GET_KTLS_RECV" in text
    )


def main() -> None:
    if len(sys.argv) != 2:
        fail("usage: patch-dtls-ktls.py <path/to/DtlsTransport.cpp>")

    path = sys.argv[1]

    with open(path, encoding="utf-8") as f:
        text = f.read()

    if MARKER in text:
        if not is_patched(text):
            fail(f"{path} carries the patch marker but not the complete patch")
        print(f"patch-dtls-ktls: {path} already patched")
        return

    signatures = SIGNATURE_RE.findall(text)
    results = RESULT_RE.findall(text)

    if len(signatures) != 1 or len(results) != 1:
        fail(
            f"{path} no longer has the expected onSslBioOut() code "
            f"(signature matches: {len(signatures)}, result-line matches: {len(results)}). "
            "mediasoup changed its DTLS write-BIO callback: check whether it still returns 1 "
            "for BIO_CTRL_GET_KTLS_SEND and update scripts/mediasoup-worker/patch-dtls-ktls.py."
        )

    text = SIGNATURE_RE.sub(r"\1int argi,", text, count=1)
    text = RESULT_RE.sub(
        lambda m: FIX_TEMPLATE.format(i=m.group("indent"), marker=MARKER) + m.group(0),
        text,
        count=1,
    )

    if not is_patched(text):
        fail(f"patching {path} did not produce the expected code")

    with open(path, "w", encoding="utf-8") as f:
        f.write(text)

    print(f"patch-dtls-ktls: patched {path}")


if __name__ == "__main__":
    main()
