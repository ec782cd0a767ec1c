#!/usr/bin/env python3
"""Consistency checks of Gabe's operations files against the code (CTest tests ops.*).

  check_ops.py SOURCE_DIR metric-names        every metric that an alert rule or a dashboard
                                              names is one the services expose
  check_ops.py SOURCE_DIR dashboards          the Grafana dashboards are well formed: unique
                                              uids, panel ids and titles, panels inside the
                                              24-column grid, every query on the datasource
                                              variable, units set on time series
  check_ops.py SOURCE_DIR alert-coverage      every alert has a promtool test that fires it
                                              and a runbook entry in docs/operations.md
  check_ops.py SOURCE_DIR settings-documented every GABE_* setting of the code is in
                                              docs/operations.md
  check_ops.py SOURCE_DIR k8s FILE...         the rendered Kubernetes objects (kubectl
                                              kustomize output) follow Gabe's rules
  check_ops.py SOURCE_DIR prometheus-rule [--write]
                                              k8s/components/monitoring/prometheus-rule.yaml
                                              holds exactly deploy/prometheus/rules/*.yml
                                              (--write regenerates it)
  check_ops.py SOURCE_DIR dockerfile BIN_DIR  the runtime stage of deploy/docker/Dockerfile
                                              installs the package of every shared library
                                              that a built binary needs

The list of exposed metrics is gathered from the source, so that it keeps up as services are
added: every "gabe_..." string literal in shared/, services/ and tools/ (histograms also
expose _bucket, _sum and _count). Exits 1 with one line per problem.
"""
import glob
import json
import os
import re
import sys

import yaml

METRIC = re.compile(r"\bgabe_[a-z0-9_]*[a-z0-9]\b")
RECORDED = re.compile(r"\bgabe:[a-z0-9_:]+\b")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def source_files(root):
    for top in ("shared", "services", "tools"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in names:
                if name.endswith((".cpp", ".hpp", ".h", ".cc")):
                    yield os.path.join(dirpath, name)


def exposed_metrics(root):
    names = set()
    for path in source_files(root):
        for literal in re.findall(r'"(gabe_[a-z0-9_]+)"', read(path)):
            names.add(literal)
            if literal.endswith(("_seconds", "_bytes")):
                names.update(literal + s for s in ("_bucket", "_sum", "_count"))
    return names


def rule_files(root):
    return sorted(glob.glob(os.path.join(root, "deploy/prometheus/rules/*.yml")))


def rules(root):
    for path in rule_files(root):
        for group in yaml.safe_load(read(path))["groups"]:
            for rule in group["rules"]:
                yield path, rule


def dashboard_exprs(root):
    """(file, panel title, expr) for every target of every panel, rows included."""
    for path in sorted(glob.glob(os.path.join(root, "deploy/grafana/dashboards/*.json"))):
        board = json.loads(read(path))
        panels = list(board.get("panels", []))
        while panels:
            panel = panels.pop()
            panels.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                if "expr" in target:
                    yield path, panel.get("title", "?"), target["expr"]
        for var in board.get("templating", {}).get("list", []):
            query = var.get("query")
            if isinstance(query, dict):
                query = query.get("query")
            if var.get("type") == "query" and isinstance(query, str):
                yield path, "variable " + var.get("name", "?"), query


def check_metric_names(root):
    exposed = exposed_metrics(root)
    recorded = {r["record"] for _, r in rules(root) if "record" in r}
    problems, used, pending = [], 0, set()

    def unknown(name):
        """True for a name no service exposes; a name of a service whose binary is not in
        this tree yet (gabe_grants_... without services/grants/main.cpp) is set aside."""
        if name in exposed:
            return False
        service = name.split("_")[1]
        if service in ("scoring", "segments", "grants") and not os.path.isfile(os.path.join(root, "services", service, "main.cpp")):
            pending.add(name)
            return False
        return True

    for path, rule in rules(root):
        for name in METRIC.findall(rule["expr"]):
            used += 1
            if unknown(name):
                problems.append(f"{os.path.relpath(path, root)}: {rule.get('alert') or rule.get('record')} uses {name}, which no service exposes")
        for name in RECORDED.findall(rule["expr"]):
            if name not in recorded:
                problems.append(f"{os.path.relpath(path, root)}: {rule.get('alert') or rule.get('record')} uses {name}, which no rule records")
    boards = 0
    for path, title, expr in dashboard_exprs(root):
        boards += 1
        for name in METRIC.findall(expr):
            used += 1
            if unknown(name):
                problems.append(f"{os.path.relpath(path, root)}: panel '{title}' uses {name}, which no service exposes")
        for name in RECORDED.findall(expr):
            if name not in recorded:
                problems.append(f"{os.path.relpath(path, root)}: panel '{title}' uses {name}, which no rule records")
    if boards == 0:
        problems.append("no dashboard queries found under deploy/grafana/dashboards/")
    print(f"{used} metric references checked against {len(exposed)} names found in the source")
    for name in sorted(pending):
        print(f"not checked: {name} (its service's services/<name>/main.cpp is not in this tree yet)")
    return problems


def check_dashboards(root):
    problems, uids = [], {}
    paths = sorted(glob.glob(os.path.join(root, "deploy/grafana/dashboards/*.json")))
    for path in paths:
        name = os.path.basename(path)
        board = json.loads(read(path))
        for key in ("uid", "title", "panels", "schemaVersion"):
            if key not in board:
                problems.append(f"{name}: no {key}")
        if board.get("uid") in uids:
            problems.append(f"{name}: uid {board['uid']} also used by {uids[board['uid']]}")
        uids[board.get("uid")] = name
        if not any(v.get("type") == "datasource" and v.get("name") == "datasource" for v in board.get("templating", {}).get("list", [])):
            problems.append(f"{name}: no datasource variable")
        ids, titles = set(), set()
        for panel in board.get("panels", []):
            title = panel.get("title", "?")
            if panel.get("id") in ids:
                problems.append(f"{name}: panel id {panel.get('id')} twice")
            ids.add(panel.get("id"))
            if panel.get("type") == "row":
                continue
            if title in titles:
                problems.append(f"{name}: panel title '{title}' twice")
            titles.add(title)
            grid = panel.get("gridPos", {})
            if not {"x", "y", "w", "h"} <= grid.keys() or grid["x"] + grid["w"] > 24:
                problems.append(f"{name}: panel '{title}' is not inside the 24-column grid")
            if not panel.get("targets"):
                problems.append(f"{name}: panel '{title}' has no query")
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("uid") != "${datasource}":
                    problems.append(f"{name}: panel '{title}' does not query the datasource variable")
            if panel.get("type") == "timeseries" and "unit" not in panel.get("fieldConfig", {}).get("defaults", {}):
                problems.append(f"{name}: panel '{title}' has no unit")
    if len(paths) < 4:
        problems.append(f"expected the dashboards overview, ingest, scoring and grants; found {len(paths)}")
    print(f"{len(paths)} dashboards checked")
    return problems


def check_alert_coverage(root):
    alerts = [r["alert"] for _, r in rules(root) if "alert" in r]
    fired = set()
    for path in glob.glob(os.path.join(root, "deploy/prometheus/tests/*.yml")):
        for test in yaml.safe_load(read(path)).get("tests", []):
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fired.add(case["alertname"])
    runbook = read(os.path.join(root, "docs/operations.md"))
    entries = set(re.findall(r"^#### (Gabe[A-Za-z]+)\s*$", runbook, re.M))
    problems = []
    for alert in alerts:
        if alert not in fired:
            problems.append(f"alert {alert} has no promtool test in deploy/prometheus/tests/ that expects it to fire")
        if alert not in entries:
            problems.append(f"alert {alert} has no runbook entry '#### {alert}' in docs/operations.md")
    for entry in sorted(entries - set(alerts)):
        problems.append(f"docs/operations.md has a runbook entry for {entry}, which no rule defines")
    for path, rule in rules(root):
        if "alert" in rule:
            link = rule.get("annotations", {}).get("runbook", "")
            if link != "docs/operations.md#" + rule["alert"].lower():
                problems.append(f"alert {rule['alert']}: runbook annotation '{link}' does not point at its entry")
            if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
                problems.append(f"alert {rule['alert']}: severity must be critical or warning")
    print(f"{len(alerts)} alerts, {len(fired)} with a firing test, {len(entries)} runbook entries")
    return problems


def check_settings_documented(root):
    settings = set()
    for path in source_files(root):
        settings.update(re.findall(r'_setting\(\s*"(GABE_[A-Z0-9_]+)"', read(path)))
    docs = read(os.path.join(root, "docs/operations.md"))
    documented = set(re.findall(r"`(GABE_[A-Z0-9_]+)`", docs))
    problems = [f"setting {s} (in the code) is not documented in docs/operations.md" for s in sorted(settings - documented)]
    print(f"{len(settings)} settings in the code, all checked against docs/operations.md")
    return problems


# --- Kubernetes -------------------------------------------------------------------------

WORKLOADS = {"Deployment", "Job", "CronJob", "StatefulSet"}


def pod_spec(obj):
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {}).get("spec", {})


def check_k8s(root, files):
    objects = []
    for path in files:
        objects.extend(o for o in yaml.safe_load_all(read(path)) if o)
    problems = []

    def where(o):
        return f"{o['kind']}/{o['metadata']['name']}"

    kinds = {}
    for o in objects:
        kinds.setdefault(o["kind"], []).append(o)
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") != "gabe":
            problems.append(f"{where(o)}: not in the namespace gabe")
        if o["kind"] not in WORKLOADS:
            continue
        pod = pod_spec(o)
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            problems.append(f"{where(o)}: pod securityContext.runAsNonRoot is not true")
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where(o)}: pod seccompProfile is not RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where(o)}: automountServiceAccountToken is not false")
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            name = f"{where(o)} container {c['name']}"
            sc = c.get("securityContext", {})
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: allowPrivilegeEscalation is not false")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{name}: capabilities are not dropped (drop: [ALL])")
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory") if kind == "requests" else ("memory",):
                    if r not in res.get(kind, {}):
                        problems.append(f"{name}: no resources.{kind}.{r}")
            env_names = [e["name"] for e in c.get("env", [])]
            for e in c.get("env", []):
                if e["name"] == "GABE_DATABASE_URL" and "valueFrom" not in e:
                    problems.append(f"{name}: GABE_DATABASE_URL must come from a Secret")
            if o["kind"] == "Deployment":
                ready = c.get("readinessProbe", {}).get("httpGet", {}).get("path")
                live = c.get("livenessProbe", {}).get("httpGet", {}).get("path")
                if ready != "/readyz":
                    problems.append(f"{name}: readinessProbe is not GET /readyz")
                if live != "/healthz":
                    problems.append(f"{name}: livenessProbe is not GET /healthz")
                if "GABE_DATABASE_URL" not in env_names:
                    problems.append(f"{name}: no GABE_DATABASE_URL")

    deployments = {d["metadata"]["name"]: d for d in kinds.get("Deployment", [])}
    for svc in ("gabe-ingest", "gabe-scoring", "gabe-segments", "gabe-grants"):
        if svc not in deployments:
            problems.append(f"no Deployment {svc}")
            continue
        # Each service connects with its own role's URL.
        env = pod_spec(deployments[svc])["containers"][0].get("env", [])
        url = [e for e in env if e["name"] == "GABE_DATABASE_URL"]
        secret = url[0].get("valueFrom", {}).get("secretKeyRef", {}).get("name") if url else None
        if secret != "gabe-db-" + svc.split("-")[1]:
            problems.append(f"{svc}: GABE_DATABASE_URL comes from {secret}, not from its role's Secret gabe-db-{svc.split('-')[1]}")
        if svc not in {s["metadata"]["name"] for s in kinds.get("Service", [])}:
            problems.append(f"no Service {svc}")
    for pdb_for in ("gabe-ingest",):
        if not any(p["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/name") == pdb_for for p in kinds.get("PodDisruptionBudget", [])):
            problems.append(f"no PodDisruptionBudget for {pdb_for}")
    hpas = kinds.get("HorizontalPodAutoscaler", [])
    if not any(h["spec"]["scaleTargetRef"]["name"] == "gabe-ingest" for h in hpas):
        problems.append("no HorizontalPodAutoscaler for gabe-ingest")
    crons = {c["metadata"]["name"]: c for c in kinds.get("CronJob", [])}
    scoring = [c for n, c in crons.items() if "scoring" in n]
    if not scoring:
        problems.append("no scoring CronJob")
    for c in scoring:
        if c["spec"].get("concurrencyPolicy") != "Forbid":
            problems.append(f"{where(c)}: concurrencyPolicy is not Forbid")
    if not any("purge" in n for n in crons):
        problems.append("no purge CronJob")
    jobs = kinds.get("Job", [])
    if not any(j["spec"].get("completionMode") == "Indexed" for j in jobs):
        problems.append("no Indexed Job (sharded scoring run)")
    if not any("migrate" in " ".join(pod_spec(j)["containers"][0].get("args", []) + pod_spec(j)["containers"][0].get("command", [])) for j in jobs):
        problems.append("no migration Job (gabectl migrate)")
    policies = kinds.get("NetworkPolicy", [])
    if not any(p["spec"].get("podSelector") == {} and "Ingress" in p["spec"].get("policyTypes", []) and not p["spec"].get("ingress") for p in policies):
        problems.append("no default-deny ingress NetworkPolicy")
    print(f"{len(objects)} objects checked: " + ", ".join(f"{len(v)} {k}" for k, v in sorted(kinds.items())))
    return problems


# --- PrometheusRule (Prometheus Operator) ---------------------------------------------

PROMETHEUS_RULE = "k8s/components/monitoring/prometheus-rule.yaml"


def prometheus_rule(root):
    groups = []
    for path in rule_files(root):
        groups.extend(yaml.safe_load(read(path))["groups"])
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "gabe"}, "spec": {"groups": groups}}


def check_prometheus_rule(root, write):
    path = os.path.join(root, PROMETHEUS_RULE)
    wanted = prometheus_rule(root)
    if write:
        with open(path, "w", encoding="utf-8") as f:
            f.write("# Generated from deploy/prometheus/rules/*.yml by\n"
                    "#   python3 tests/ops/check_ops.py . prometheus-rule --write\n"
                    "# Do not edit; the test ops.prometheus_rule fails when it is out of date.\n")
            class Dumper(yaml.SafeDumper):
                pass

            def text(dumper, value):  # multi-line expressions as readable | blocks
                style = "|" if "\n" in value else None
                return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

            Dumper.add_representer(str, text)
            yaml.dump(wanted, f, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=200)
        print(f"wrote {PROMETHEUS_RULE}")
        return []
    if yaml.safe_load(read(path)) != wanted:
        return [f"{PROMETHEUS_RULE} differs from deploy/prometheus/rules/*.yml: run "
                "python3 tests/ops/check_ops.py . prometheus-rule --write"]
    print(f"{PROMETHEUS_RULE} matches deploy/prometheus/rules/")
    return []


# --- Dockerfile -------------------------------------------------------------------------

# In debian:bookworm-slim already (apt itself needs them).
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}


def installed_packages(stage_text):
    packages = set()
    for block in re.findall(r"apt-get install([^&]*)", stage_text):
        for word in block.replace("\\", " ").split():
            if not word.startswith("-"):
                packages.add(word)
    return packages


def library_packages(libraries):
    """{library: Debian package} for the shared libraries the dynamic linker finds, in one
    dpkg query (with merged /usr, a library may be registered under /lib or /usr/lib)."""
    import subprocess
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    where = {}
    for name, path in re.findall(r"^\s*(\S+) \(.*\) => (\S+)$", cache, re.M):
        if name in libraries and name not in where:
            real = os.path.realpath(path)
            where[name] = {path, real} | {p.replace("/usr/lib/", "/lib/", 1) for p in (path, real)} | {p.replace("/lib/", "/usr/lib/", 1) for p in (path, real) if p.startswith("/lib/")}
    paths = sorted(set().union(*where.values())) if where else []
    out = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True).stdout if paths else ""
    owner = {}
    for line in out.splitlines():
        package, _, path = line.partition(": ")
        owner[path.strip()] = package.split(":")[0]
    return {lib: next((owner[p] for p in sorted(cands) if p in owner), None) for lib, cands in where.items()}


def check_dockerfile(root, bin_dir):
    import subprocess
    text = read(os.path.join(root, "deploy/docker/Dockerfile"))
    stages = re.split(r"^FROM ", text, flags=re.M)
    build, runtime = installed_packages(stages[1]), installed_packages(stages[-1])
    problems = []
    for package in ("libpqxx-dev", "prometheus-cpp-dev", "libxgboost-dev", "xgboost", "rapidjson-dev", "libboost-dev"):
        if package not in build:
            problems.append(f"the build stage does not install {package}")
    binaries = sorted(glob.glob(os.path.join(bin_dir, "gabe-*")) + glob.glob(os.path.join(bin_dir, "gabectl")))
    binaries = [b for b in binaries if os.access(b, os.X_OK)]
    if not binaries:
        problems.append(f"no gabe-* binaries in {bin_dir}")
    needed = {}
    for binary in binaries:
        dump = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True).stdout
        needed[binary] = re.findall(r"NEEDED\s+(\S+)", dump)
    packages = library_packages(set().union(*needed.values()) if needed else set())
    for binary, libraries in needed.items():
        for library in libraries:
            package = packages.get(library)
            if package is None:
                problems.append(f"{os.path.basename(binary)} needs {library}, which no installed package provides")
            elif package not in runtime | BASE_PACKAGES:
                problems.append(f"{os.path.basename(binary)} needs {library} from {package}, which the runtime stage does not install")
    if "USER" not in stages[-1] or re.search(r"^USER\s+(root|0)\b", stages[-1], re.M):
        problems.append("the runtime stage does not switch to a non-root USER")
    print(f"{len(binaries)} binaries' libraries checked against the runtime stage's {len(runtime)} packages")
    return problems


def main():
    root, mode, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    problems = {
        "metric-names": lambda: check_metric_names(root),
        "alert-coverage": lambda: check_alert_coverage(root),
        "dashboards": lambda: check_dashboards(root),
        "settings-documented": lambda: check_settings_documented(root),
        "k8s": lambda: check_k8s(root, rest),
        "dockerfile": lambda: check_dockerfile(root, rest[0]),
        "prometheus-rule": lambda: check_prometheus_rule(root, rest == ["--write"]),
    }[mode]()
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
