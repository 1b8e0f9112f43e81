"""The tiered lab's "payments" provider: an external API outside the inventory.

Started by `fearless lab up --topology tiered` on its own loopback address (argv[1], port
argv[2]), outside every lab host. `/settlements` answers after a delay, as a remote
provider does; `/health` at once. One connection per request (HTTP/1.0).
"""

import http.server
import json
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "payments-sandbox/1.0"

    def reply(self, status, body, ctype="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self.reply(200, "ok")
        elif path == "/settlements":
            time.sleep(0.3)
            self.reply(200, json.dumps({"settled": 3}), "application/json")
        else:
            self.reply(404, "not found\n")

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    server = http.server.ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    sys.stderr.write("payments listening on %s:%d\n" % (address, port))
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
