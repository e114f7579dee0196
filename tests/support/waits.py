"""Waits for an event (a row in a state, a line of output, a port that accepts), never for a
fixed time: a busy machine only makes them slower, not wrong."""

import socket
import time


def wait_for(condition, what, timeout=60, interval=0.02):
    """``condition()``'s first truthy value, polled until ``timeout`` seconds have passed;
    then an ``AssertionError`` saying ``what`` did not happen. The deadline is generous: it
    only bounds a test that would otherwise hang."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout}s for {what}")
        time.sleep(interval)


def port_accepts(host, port):
    """Whether a TCP server accepts connections on ``host:port`` now."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
