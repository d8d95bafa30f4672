"""Load test: N users at once on one app, each with a text no one else has.

    python scripts/loadtest.py [--users 8] [--train-seconds 3] [--generations 5]
    python scripts/loadtest.py --cycles 20      # one user, 20 train/generate cycles: memory stays flat

Starts `python app.py` on a free port, then N gradio_client users in parallel
each upload their own corpus (words only they use), train a tiny model and
generate. Reports generate latency (p50/p95), errors, cross-talk (a generated
word from another user's corpus) and the server's memory. A benchmark, not a
test: the last line is one JSON object.
"""
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from wordlstm.commands.cli import ArgumentParser, run
from wordlstm.errors import UserError
from wordlstm.text.tokenizer import tokenize

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = dict(seq_len=10, embed_dim=16, hidden_size=32, num_layers=1, batch_size=8, dropout=0.0, lr=0.01)
SYLLABLES = "ka ko ku ma mo mu na no nu ra ro ru ta to tu".split()


def user_words(user: int, n: int = 12) -> list[str]:
    """Words no other user has: each starts with the user's own prefix."""
    prefix = "".join(SYLLABLES[int(d)] for d in f"{user:02d}")
    return [prefix + "".join(random.Random(user * 100 + i).choices(SYLLABLES, k=2)) for i in range(n)]


def write_corpus(path: str, words: list[str], seed: int, n: int = 600):
    """n of `words` in random order, a full stop every ninth."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write(" ".join(rng.choice(words) + ("." if i % 9 == 8 else "") for i in range(n)))


class App(subprocess.Popen):
    """`python app.py` on `port`. Its stderr goes to a file (`log`), not a pipe: a pipe
    nobody reads fills up and stalls the server."""

    def __init__(self, port: int):
        self.log = tempfile.TemporaryFile()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
        super().__init__([sys.executable, os.path.join(HERE, "..", "app.py")], env=env, stdout=subprocess.DEVNULL,
                         stderr=self.log)


def server_rss_mib(server: App) -> float:
    try:
        with open(f"/proc/{server.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):  # no such process, or a zombie without memory: it died
        raise UserError(died(server)) from None


def died(server: App) -> str:
    """What to say when the app under test is gone: its exit code and the last line it wrote."""
    code = server.wait(timeout=10)
    server.log.seek(0)
    last = (server.log.read().decode(errors="replace").strip().splitlines() or ["(nothing)"])[-1]
    return f"the app exited (code {code}) during the load test; its last line on stderr: {last}"


def wait_for(server: App, port: int, seconds: float = 120):
    """Until the app answers on `port`; UserError if it exits or is silent for `seconds`."""
    deadline = time.time() + seconds
    while True:
        if server.poll() is not None:
            raise UserError(died(server).replace("during the load test", "before it answered"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise UserError(f"the app did not answer on port {port} within {seconds:.0f} s") from None
            time.sleep(0.5)


def one_user(url, user, words, args, folder, out):
    from gradio_client import Client, handle_file
    path = os.path.join(folder, f"user{user}.txt")
    write_corpus(path, words, seed=user)
    rec = {"user": user, "errors": [], "latencies": [], "texts": []}
    try:
        client = Client(url, verbose=False)
        client.predict(corpus=handle_file(path), epochs=0, max_seconds=args.train_seconds, seed=user, **SMALL,
                       api_name="/train")
        for g in range(args.generations):
            t0 = time.perf_counter()
            text, _ = client.predict(prompt=words[g % len(words)], max_new_tokens=40, seed=g, api_name="/generate")
            rec["latencies"].append(time.perf_counter() - t0)
            rec["texts"].append(text)
    except Exception as e:  # a load test counts failures instead of stopping at the first
        rec["errors"].append(f"{type(e).__name__}: {str(e)[:200]}")
    out[user] = rec


def cycles(url, server, args, folder) -> dict:
    """One user trains and generates `args.cycles` times in a row; the server's
    RSS after each cycle. Flat means each new model frees the last."""
    from gradio_client import Client, handle_file
    words = user_words(0)
    path = os.path.join(folder, "cycles.txt")
    write_corpus(path, words, seed=0)
    client, rss = Client(url, verbose=False), []
    for c in range(args.cycles):
        client.predict(corpus=handle_file(path), epochs=0, max_seconds=args.train_seconds, seed=c, **SMALL,
                       api_name="/train")
        client.predict(prompt=words[0], max_new_tokens=40, seed=c, api_name="/generate")
        rss.append(round(server_rss_mib(server), 1))
    warm = rss[min(4, len(rss) - 1)]  # after a few cycles the allocator and caches have settled
    growth = round(rss[-1] - warm, 1)
    return {"cycles": args.cycles, "rss_mib": rss, "growth_after_cycle_5_mib": growth,
            "bound_mib": args.max_growth, "flat": growth <= args.max_growth}


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=8, help="simultaneous users (default 8)")
    p.add_argument("--train-seconds", type=float, default=3, help="each user's training budget")
    p.add_argument("--generations", type=int, default=5, help="generations per user, each timed")
    p.add_argument("--cycles", type=int, default=0, help="instead: one user, this many train/generate cycles")
    p.add_argument("--max-growth", type=float, default=30, help="with --cycles: allowed RSS growth after cycle 5, MiB")
    args = p.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = App(port)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(server, port)
        if args.cycles:
            with tempfile.TemporaryDirectory() as folder:
                report = cycles(url, server, args, folder)
            print(f"{args.cycles} cycles: server RSS {report['rss_mib'][0]} -> {report['rss_mib'][-1]} MiB, "
                  f"{report['growth_after_cycle_5_mib']:+} MiB after cycle 5 (bound {args.max_growth})")
            print(json.dumps(report))
            return 0 if report["flat"] else 1
        rss_start = server_rss_mib(server)
        words = {u: user_words(u) for u in range(args.users)}
        results: dict = {}
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            threads = [threading.Thread(target=one_user, args=(url, u, words[u], args, folder, results))
                       for u in range(args.users)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        seconds = time.perf_counter() - t0
        rss_end = server_rss_mib(server)
    finally:
        server.terminate()
        server.wait(timeout=30)

    owner = {w: u for u, ws in words.items() for w in ws}
    cross_talk = sum(1 for u, rec in results.items() for text in rec["texts"] for w in tokenize(text)
                     if owner.get(w, u) != u)
    latencies = sorted(x for rec in results.values() for x in rec["latencies"])
    errors = [e for rec in results.values() for e in rec["errors"]]
    pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3) if latencies else None  # noqa: E731
    report = {"users": args.users, "generations": len(latencies), "errors": len(errors), "cross_talk": cross_talk,
              "generate_p50_s": round(statistics.median(latencies), 3) if latencies else None,
              "generate_p95_s": pct(0.95), "seconds": round(seconds, 1),
              "server_rss_mib_start": round(rss_start, 1), "server_rss_mib_end": round(rss_end, 1)}
    for e in errors[:5]:
        print(f"error: {e}", file=sys.stderr)
    print(f"{args.users} users, {len(latencies)} generations in {seconds:.0f} s: p50 {report['generate_p50_s']} s, "
          f"p95 {report['generate_p95_s']} s, {len(errors)} errors, {cross_talk} cross-talk words")
    print(json.dumps(report))
    return 1 if errors or cross_talk else 0


if __name__ == "__main__":
    sys.exit(run(main))
