"""wsgi_early413.py - a WSGI app for uWSGI in linger's integration tests.

A POST or PUT announcing a body over 65536 bytes gets 413 at once, its body
never read, and the response sets Content-Length but not `Connection:
close`: the keep-alive semantics of uWSGI's own answer (issue 13). Smaller
bodies are read in full and answered 200 with their byte count.
"""


def application(env, start_response):
    length = int(env.get("CONTENT_LENGTH") or 0)
    if env.get("REQUEST_METHOD") in ("POST", "PUT") and length > 65536:
        body = b"too large\n"
        start_response("413 Payload Too Large", [("Content-Type", "text/plain"),
                                                 ("Content-Length", str(len(body)))])
        return [body]
    got = len(env["wsgi.input"].read(length)) if length else 0
    body = b"received %d bytes\n" % got
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
