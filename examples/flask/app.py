"""The classic server-push page, on the push cluster: a form, and a live list on every page.

A message submitted on any page is POSTed to this Flask server, which publishes it to the room
through the cluster (push_publisher.py: idempotency key, retried until published or refused);
every page, whichever node it is connected to, receives it over /push-client.js.

    CORS_ORIGINS=http://localhost:5000 docker compose up        # in the repository root
    PUSH_API_KEY=local-dev-publish-key-change-me python3 examples/flask/app.py

Environment: PUSH_URL (where this server publishes, default http://localhost:8080),
PUSH_PUBLIC_URL (where browsers connect, default PUSH_URL), PUSH_API_KEY (one of the cluster's
PUBLISH_API_KEYS), PORT (default 5000), ROOM (default flask-demo).
"""

import os

from flask import Flask, jsonify, render_template, request

from push_publisher import PushPublisher

PUSH_URL = os.environ.get("PUSH_URL", "http://localhost:8080")
PUSH_PUBLIC_URL = os.environ.get("PUSH_PUBLIC_URL", PUSH_URL)
ROOM = os.environ.get("ROOM", "flask-demo")

app = Flask(__name__)
publisher = PushPublisher(PUSH_URL, lambda: os.environ["PUSH_API_KEY"])


@app.get("/")
def page():
    return render_template("index.html", push_url=PUSH_PUBLIC_URL, room=ROOM)


@app.post("/messages")
def post_message():
    text = (request.get_json(silent=True) or {}).get("text", "")
    if not isinstance(text, str) or not 1 <= len(text.strip()) <= 500:
        return jsonify(error="text: 1-500 characters"), 400
    outcome = publisher.publish({"text": text.strip()}, room=ROOM, event="chat")
    if outcome.status == "published":
        return jsonify(status="published", offset=outcome.receipt.get("offset")), 202
    code = 400 if outcome.status == "refused" else 502 if outcome.status == "unknown" else 503
    return jsonify(status=outcome.status, error=outcome.error), code


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5000")))
