"""A Lua script called over each thread's own Redis connection.

redis-py's client spends more CPU per call (a client object, the pool, retries, response callbacks)
than the round trip costs; on the vote's path that was about a third of a submit's CPU time. Here one
call is one EVALSHA written and read on a connection the thread keeps.
"""

import hashlib
import threading

import redis


class ThreadScript:
    def __init__(self, *, url: str, source: str, timeout_seconds: float):
        self.pool = redis.ConnectionPool.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self.local = threading.local()

    def __call__(self, *, keys: list, args: list):
        """Run the script; raises redis.RedisError (and drops the connection) when Redis fails."""
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = self.pool.make_connection()
        try:
            try:
                connection.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
                return connection.read_response()
            except redis.exceptions.NoScriptError:  # a restarted Redis: send the source once
                connection.send_command("EVAL", self.source, len(keys), *keys, *args)
                return connection.read_response()
        except redis.exceptions.ResponseError:
            raise
        except BaseException:
            connection.disconnect()
            self.local.connection = None
            raise
