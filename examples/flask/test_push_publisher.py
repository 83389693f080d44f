"""The Python publisher against a scripted cluster on 127.0.0.1 (python3 -m unittest)."""

import json
import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from push_publisher import PushPublisher

UNKNOWN = (502, {"error": {"code": "outcome_unknown", "message": "the node stopped"}}, {})
BUSY = (503, {"error": {"code": "unavailable", "message": "no Redis"}}, {})
ACCEPTED = (202, {"id": "m-1", "offset": 7, "epoch": "e1"}, {})


class ScriptedCluster:
    """Answers the n-th request with replies[n] (the last one again after), records requests."""

    def __init__(self, *replies):
        self.replies = replies
        self.got = []
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                cluster.got.append({"at": time.monotonic(), "body": body, "auth": self.headers["Authorization"]})
                status, answer, headers = cluster.replies[min(len(cluster.got), len(cluster.replies)) - 1]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(json.dumps(answer).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def quick(url, retry_for=10.0, api_key="k1"):
    return PushPublisher(url, api_key, retry_for=retry_for, backoff_base=0.01, backoff_max=0.05)


class PublishTest(unittest.TestCase):
    def cluster(self, *replies):
        scripted = ScriptedCluster(*replies)
        self.addCleanup(scripted.close)
        return scripted

    def test_unknown_outcome_sent_again_under_the_same_key(self):
        cluster = self.cluster(UNKNOWN, UNKNOWN, ACCEPTED)
        outcome = quick(cluster.url).publish({"n": 1}, room="orders")
        self.assertEqual(outcome.status, "published")
        self.assertEqual(outcome.attempts, 3)
        self.assertEqual(outcome.receipt["offset"], 7)
        keys = {request["body"]["idempotencyKey"] for request in cluster.got}
        self.assertEqual(keys, {outcome.idempotency_key})
        self.assertTrue(all(request["auth"] == "Bearer k1" for request in cluster.got))

    def test_refusal_never_sent_again(self):
        cluster = self.cluster((400, {"error": {"code": "invalid_room", "message": "bad"}}, {}))
        outcome = quick(cluster.url).publish(1, room="no spaces")
        self.assertEqual((outcome.status, outcome.http_status, outcome.attempts), ("refused", 400, 1))
        self.assertEqual(outcome.error["code"], "invalid_room")
        self.assertEqual(len(cluster.got), 1)

    def test_retry_after_honoured(self):
        limited = (429, {"error": {"code": "rate_limited", "message": "slow"}}, {"Retry-After": "1"})
        cluster = self.cluster(limited, ACCEPTED)
        self.assertEqual(quick(cluster.url).publish(1, room="orders").status, "published")
        self.assertGreaterEqual(cluster.got[1]["at"] - cluster.got[0]["at"], 0.95)

    def test_everyone_at_most_once(self):
        cluster = self.cluster(UNKNOWN, ACCEPTED)
        outcome = quick(cluster.url).publish("to all")
        self.assertEqual((outcome.status, outcome.attempts), ("unknown", 1))
        self.assertEqual(cluster.got[0]["body"], {"data": "to all"})

    def test_everyone_sent_again_while_surely_not_taken(self):
        cluster = self.cluster(BUSY, (202, {"id": "m-2"}, {}))
        self.assertEqual(quick(cluster.url).publish("to all").status, "published")

    def test_gives_up_not_published_or_unknown(self):
        busy = self.cluster(BUSY)
        self.assertEqual(quick(busy.url, retry_for=0.3).publish(1, room="orders").status, "not_published")
        mixed = self.cluster(UNKNOWN, BUSY)
        self.assertEqual(quick(mixed.url, retry_for=0.3).publish(1, room="orders").status, "unknown")

    def test_refused_connection_is_not_published(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        outcome = quick(f"http://127.0.0.1:{port}", retry_for=0.2).publish("to all")
        self.assertEqual(outcome.status, "not_published")

    def test_key_read_per_request(self):
        cluster = self.cluster(UNKNOWN, ACCEPTED)
        keys = iter(["old-key", "new-key"])
        quick(cluster.url, api_key=lambda: next(keys)).publish(1, room="orders", idempotency_key="k-9")
        self.assertEqual([r["auth"] for r in cluster.got], ["Bearer old-key", "Bearer new-key"])
        self.assertEqual(cluster.got[0]["body"]["idempotencyKey"], "k-9")


if __name__ == "__main__":
    unittest.main()
