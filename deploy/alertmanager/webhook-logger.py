#!/usr/bin/env python3
"""A stand-in webhook receiver for deploy/docker-compose.yml.

Prints one line per alert that Alertmanager POSTs, including the report_url
annotation, so you can see what a real receiver (chat bot, ticket system) gets:

    docker compose -f deploy/docker-compose.yml logs -f webhook-logger

Standard library only; listens on :8080.
"""
import json
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            payload = json.loads(body)
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        print(f"--- {self.path} receiver={payload.get('receiver')} "
              f"status={payload.get('status')} group={payload.get('groupLabels')}", flush=True)
        for alert in payload.get("alerts", []):
            labels, ann = alert.get("labels", {}), alert.get("annotations", {})
            print(f"  [{alert.get('status')}] {labels.get('alertname')} "
                  f"severity={labels.get('severity')} server={labels.get('server', '-')} "
                  f"user={labels.get('user', '-')}", flush=True)
            print(f"    {ann.get('description', '')}", flush=True)
            for key in ("report_url", "runbook_url"):
                if key in ann:
                    print(f"    {key}: {ann[key]}", flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer(("", 8080), Handler).serve_forever()
