"""A bounded load of simulated volunteers on loopback, retrying with the SAME idempotency key.

Each client is one anonymous volunteer with its own cookies: GET next, then POST a classification;
a failed POST (connection error, timeout, 5xx) is re-sent with the same key until it is
acknowledged (201/200) or the time is up. Every acknowledgement is recorded for the checks.
"""

import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

# Answers for the synthetic Galaxy Zoo tree (mlworker.synthetic.GALAXY_QUESTIONS).
ANSWERS = [
    {"smooth-or-featured": "smooth"},
    {"smooth-or-featured": "featured", "edge-on": "yes"},
    {"smooth-or-featured": "featured", "edge-on": "no", "bar": "bar"},
]


@dataclass
class LoadResult:
    acknowledged: list[dict] = field(default_factory=list)  # {classification, subject, key, at}
    failures: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # 4xx other than retries' replays
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged_between(self, start: float, end: float) -> int:
        return sum(start <= ack["at"] < end for ack in self.acknowledged)


class Volunteer:
    def __init__(self, port: int, slug: str, seed: int, result: LoadResult, timeout: float = 5.0):
        self.port, self.slug, self.result, self.timeout = port, slug, result, timeout
        self.cookies: dict[str, str] = {}
        self.rng = random.Random(seed)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers.update(
                {
                    "Content-Type": "application/json",
                    "X-CSRFToken": self.cookies.get("csrftoken", ""),
                }
            )
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, (json.loads(data) if data and data[:1] in (b"{", b"[") else {})
        finally:
            connection.close()

    def classify_one(self, deadline: float) -> bool:
        """Classify the next subject; False when nothing is left or time is up."""
        try:
            status, body = self.request("GET", f"/api/projects/{self.slug}/next")
        except (OSError, http.client.HTTPException):
            self.result.failures += 1
            time.sleep(0.2)
            return time.monotonic() < deadline
        if status != 200:
            self.result.failures += 1
            time.sleep(0.2)
            return time.monotonic() < deadline
        if not body.get("subject"):
            return False
        subject = body["subject"]["id"]
        answers = self.rng.choice(ANSWERS)
        key = uuid.uuid4().hex
        # A sent request may have been stored even if its answer was lost: keep the key until acknowledged.
        while time.monotonic() < deadline + 10:
            try:
                status, body = self.request(
                    "POST",
                    f"/api/projects/{self.slug}/classifications",
                    {"subject": subject, "answers": answers, "idempotency_key": key},
                )
            except (OSError, http.client.HTTPException):
                status, body = 0, {}
            if status in (200, 201):
                with self.result.lock:
                    self.result.acknowledged.append(
                        {
                            "classification": body["id"],
                            "subject": subject,
                            "key": key,
                            "at": time.monotonic(),
                        }
                    )
                return time.monotonic() < deadline
            if 400 <= status < 500 and status != 429:
                with self.result.lock:
                    self.result.refused.append((status, body.get("error", "")))
                return time.monotonic() < deadline
            self.result.failures += 1
            time.sleep(0.1 + self.rng.random() * 0.2)
        return False


def run_load(port: int, slug: str, clients: int, seconds: float, during=None) -> LoadResult:
    """Run `clients` volunteers for `seconds`; `during(result)` runs in this thread meanwhile."""
    result = LoadResult()
    deadline = time.monotonic() + seconds

    def client(seed):
        volunteer = Volunteer(port, slug, seed, result)
        while volunteer.classify_one(deadline):
            pass

    threads = [
        threading.Thread(target=client, args=(seed,), daemon=True) for seed in range(clients)
    ]
    for thread in threads:
        thread.start()
    if during is not None:
        during(result)
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return result
