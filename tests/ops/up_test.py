#!/usr/bin/env python3
"""`./run up`'s script, deploy/up.sh, from start to Ctrl-C, on a throwaway state directory.

Starts deploy/up.sh with GABE_STATE_DIR in a temporary directory (its own private PostgreSQL
there), a small demo (GABE_UP_TEST_DONORS, default 1000) and free ports, waits for its last
line ("Press Ctrl-C to stop."), then checks what a newcomer is promised: every service answers
/readyz, a model is active and a scoring run succeeded, a built-in segment has members, the
grants have an overdue deadline, one due within 7 days and a recurring one, the calendar feed
(token in its URL) has events, Prometheus scrapes the four services, and every URL and the
admin token are printed. Then SIGINT, as Ctrl-C sends it: up.sh must exit 0 with nothing left
running (no process of its session, no PostgreSQL or Prometheus of its state directory, no
listening port).

Usage: up_test.py SOURCE_DIR BIN_DIR
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT, BIN = sys.argv[1], sys.argv[2]
READY_LINE = "Press Ctrl-C to stop."
START_SECONDS = 240  # start and demo steps: 15-40 s with 1000 donors here, more under ASan
STOP_SECONDS = 60
SERVICES = ("ingest", "scoring", "segments", "grants")


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def http(url, token=None, timeout=30):
    """GET url; returns (status, content type, body text)."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def get_json(url, token):
    status, _, body = http(url, token)
    check(status == 200, f"GET {url}: {status} {body[:300]}")
    return json.loads(body)


def session_processes(sid):
    """(pid, command line) of every process in session sid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            # pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    found.append((int(entry), f.read().replace(b"\0", b" ").decode(errors="replace")))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return found


def processes_mentioning(text):
    """(pid, command line) of every process whose command line contains text."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append((int(entry), cmd))
    return found


def listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            if line.startswith("export ") and "=" in line:
                key, value = line[len("export "):].rstrip("\n").split("=", 1)
                env[key] = value.strip("'")
    return env


def main():
    for svc in SERVICES:
        check(os.access(f"{BIN}/gabe-{svc}", os.X_OK), f"{BIN}/gabe-{svc} is not built")
    state = tempfile.mkdtemp(prefix="gabe-ops-up.")
    os.chmod(state, 0o755)
    env = dict(os.environ)
    env.pop("GABE_DATABASE_URL", None)
    # Free ports, not 8081-8084: the test may run beside another ./run up or itself (the
    # sanitizer build's CTest run overlaps the normal one).
    env.update(GABE_STATE_DIR=state, GABE_UP_ANY_PORT="1",
               GABE_DEMO_DONORS=os.environ.get("GABE_UP_TEST_DONORS", "1000"))

    def as_terminal_job():
        # What a terminal gives the foreground job: its own process group (here a session, so
        # that its processes can be found), SIGINT not ignored (a background job of a
        # non-interactive shell, as under ctest, inherits SIGINT ignored, and bash cannot trap
        # a signal ignored on entry).
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(["bash", f"{ROOT}/deploy/up.sh", BIN], env=env, cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=as_terminal_job)
    lines = []
    ready = threading.Event()

    def reader():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.strip() == READY_LINE:
                ready.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    started = time.monotonic()
    stopped = False
    try:
        while not ready.wait(0.5):
            check(proc.poll() is None, f"deploy/up.sh exited with {proc.returncode} before it was ready")
            check(time.monotonic() - started < START_SECONDS,
                  f"deploy/up.sh was not ready within {START_SECONDS} s")
        took = time.monotonic() - started
        print(f"deploy/up.sh ready after {took:.0f} s")
        output = "\n".join(lines)
        check("FAILED" not in output, "a demo step failed")

        e = read_env(f"{state}/env")
        token = e["GABE_TOKEN"]
        urls = {svc: e[f"GABE_{svc.upper()}_URL"] for svc in SERVICES}

        # Every URL and the admin token are printed.
        for svc, url in urls.items():
            check(url in output, f"gabe-{svc}'s URL {url} is not printed")
        check(token in output, "the admin token is not printed")
        check(e["GABE_CALENDAR_URL"] in output, "the calendar feed's URL is not printed")
        check(f"/v1/models/{e['GABE_MODEL_ID']}/card.html" in output, "the model card's URL is not printed")

        for svc, url in urls.items():
            status, _, body = http(url + "/readyz")
            check(status == 200, f"gabe-{svc} /readyz: {status} {body[:200]}")
        print("readyz: " + ", ".join(f"gabe-{s} 200" for s in SERVICES))

        stats = get_json(urls["ingest"] + "/v1/stats", token)
        check(stats["donors"] == int(env["GABE_DEMO_DONORS"]), f"demo donors: {stats}")

        active = get_json(urls["scoring"] + "/v1/models?target=give_90d&status=active", token)["items"]
        check(len(active) == 1, f"active give_90d models: {len(active)}")
        check(active[0]["model_id"] == int(e["GABE_MODEL_ID"]), "the printed model is not the active one")
        runs = get_json(urls["scoring"] + "/v1/runs?target=give_90d&status=succeeded", token)["items"]
        check(runs and runs[0]["donors_scored"] > 0, f"no succeeded scoring run with scores: {runs}")
        card_status, card_type, card = http(f"{urls['scoring']}/v1/models/{active[0]['model_id']}/card.html", token)
        check(card_status == 200 and "text/html" in card_type, f"model card page: {card_status}")
        with open(f"{state}/model-card.html") as f:
            check("<svg" in f.read(), "the saved model card has no charts")
        print(f"scoring: model {active[0]['model_id']} active, run {runs[0]['run_id']} scored "
              f"{runs[0]['donors_scored']} donors")

        segments = get_json(urls["segments"] + "/v1/segments?limit=1000", token)["items"]
        builtin = [s for s in segments if s["builtin"]]
        check(len(builtin) >= 11, f"built-in segments: {len(builtin)}")
        check(all(s["refreshed_at"] for s in builtin), "a built-in segment was not refreshed")
        by_name = {s["name"]: s for s in segments}
        check(by_name["active"]["members"] > 0, "the built-in segment 'active' has no members")
        rfm_r = sum(s["members"] for s in builtin if s["name"].startswith("RFM R"))
        check(rfm_r > 0.8 * stats["donors"], f"RFM R1..R5 hold {rfm_r} of {stats['donors']} donors")
        print(f"segments: {len(builtin)} built-in refreshed, 'active' has {by_name['active']['members']} members")

        overdue = get_json(urls["grants"] + "/v1/deadlines?state=overdue", token)["items"]
        check(overdue, "no overdue deadline")
        week = get_json(urls["grants"] + "/v1/deadlines?state=open&within_days=7", token)["items"]
        check(week, "no open deadline within 7 days")
        every = get_json(urls["grants"] + "/v1/deadlines?limit=1000", token)["items"]
        check(any(i["occurrence"] > 1 for i in every), "no recurring deadline")
        # The feed as a calendar app fetches it: the token in the URL, no header.
        status, ctype, ics = http(e["GABE_CALENDAR_URL"])
        check(status == 200 and "text/calendar" in ctype, f"calendar feed: {status} {ctype}")
        events = ics.count("BEGIN:VEVENT")
        check(events >= len(every), f"the calendar feed has {events} events for {len(every)} occurrences")
        print(f"grants: {len(overdue)} overdue, {len(week)} due within 7 days, {events} calendar events")

        prom = e.get("GABE_PROMETHEUS_URL", "")
        if shutil.which("prometheus"):
            check(prom and prom in output, "Prometheus is installed but was not started or not printed")
            # Prometheus discovers its targets a moment after it says it is ready: ask until
            # all four are there, for at most 30 s.
            want = sorted(f"gabe-{s}" for s in SERVICES)
            deadline = time.monotonic() + 30
            while True:
                targets = json.loads(http(prom + "/api/v1/targets")[2])["data"]["activeTargets"]
                jobs = sorted(t["labels"]["job"] for t in targets)
                if jobs == want or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            check(jobs == sorted(f"gabe-{s}" for s in SERVICES), f"Prometheus scrapes {jobs}")
            print(f"prometheus: scrapes {', '.join(jobs)}")
        else:
            print("prometheus is not installed: not checked")

        ports = [int(u.rsplit(":", 1)[1]) for u in urls.values()]
        if prom:
            ports.append(int(prom.rsplit(":", 1)[1]))

        # Ctrl-C.
        os.kill(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            raise Failure(f"deploy/up.sh did not stop within {STOP_SECONDS} s of SIGINT")
        stopped = True
        t.join(5)
        check(code == 0, f"deploy/up.sh exited with {code} after SIGINT")
        time.sleep(0.5)
        left = session_processes(proc.pid) + processes_mentioning(state)
        check(not left, f"processes left after SIGINT: {left}")
        check(not os.path.exists(f"{state}/pg/data/postmaster.pid"), "PostgreSQL still running")
        still = [p for p in ports if listening(p)]
        check(not still, f"ports still listening after SIGINT: {still}")
        print(f"SIGINT: exit 0 within {STOP_SECONDS} s, no process left, ports closed")
        return 0
    except Failure as failure:
        print("FAIL: " + str(failure))
        print("--- deploy/up.sh said:")
        print("\n".join(lines))
        for name in sorted(os.listdir(f"{state}/logs")) if os.path.isdir(f"{state}/logs") else []:
            with open(f"{state}/logs/{name}", errors="replace") as f:
                tail = f.read().splitlines()[-5:]
            if tail:
                print(f"--- {name} (last lines):")
                print("\n".join(tail))
        return 1
    finally:
        if not stopped and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # up.sh's own clean stop
            try:
                proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for pid, _ in session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)
        subprocess.run([f"{ROOT}/run", "pg-stop", f"{state}/pg"], check=False)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
