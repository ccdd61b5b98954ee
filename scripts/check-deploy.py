#!/usr/bin/env python3
"""Check the deployment files without Docker or a cluster (issue 14, part 4).

Usage: python3 scripts/check-deploy.py [--self-test] [--write-prometheus-rule]

Checks, each reported by name:
  yaml        every *.yaml / *.yml and *.json under deploy/ (the Grafana dashboard) parses.
  compose     deploy/compose.yaml is valid against the Compose Specification's JSON Schema (the copy
              that the PyPI package check-jsonschema ships); the topic job creates exactly the
              contract's topics (the channel addresses of schemas/asyncapi.yaml) with replication
              factor 3 and min.insync.replicas=2; every file it mounts or builds from exists.
  kubernetes  every resource of deploy/kubernetes (the base and the prometheus-operator component) is
              listed in its kustomization.yaml and valid against the Kubernetes OpenAPI schemas
              (PyPI kubernetes-validate, which ships them; strict: unknown fields fail) for the
              versions in K8S_VERSIONS; KEDA's ScaledObject and the operator's PrometheusRule and
              ServiceMonitor against the subsets of their CRDs in scripts/deploy-schemas/. With
              kubectl on PATH, `kubectl kustomize` must also render the base.
  consistency the facts the files repeat agree: KEDA's brokers, group and topics with the
              ConfigMap; KEDA's maximum not above the partitions; the PrometheusRule with
              deploy/prometheus/alerts.yml; Service and PodDisruptionBudget select the Deployment's
              pods; probes on /healthz and /readyz (routes read from Sources/Ops); the termination
              grace longer than the worker's drain (WorkerConfiguration.shutdownGrace + 15 s); in
              compose, the workers reach the brokers, PostgreSQL and simulator it defines.
  environment every environment variable set for an idverify container (compose, Kubernetes
              ConfigMap/Secret/env, the Dockerfile's ENV) is one the service reads, the names read
              out of the Swift sources (environment["X"], required("X"), integer("X", ...),
              flag("X"), variable: "X"); every setting `ServiceSettings` requires is set for the
              workers, and DATABASE_URL for migrate.
  commands    the idverify subcommands the files run exist (commandName in Sources/idverify), and so
              do the registry simulator's options they pass.
  dockerfile  every file or folder deploy/Dockerfile copies from the build context exists and is not
              excluded by .dockerignore.

--self-test copies what the checks read into a temporary folder, checks that the copy passes, then
breaks it in one way per check and requires that check to fail.

Exit status: 0 when everything holds, 1 when something does not, 3 when a dependency is missing.
"""

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
K8S_VERSIONS = ("1.29.0", "1.33.0")
IDVERIFY_IMAGES = ("tthc-identity-verifier",)  # image names (before ':'), compose and Kubernetes
REQUEST_CHANNELS = ("counter", "registration", "submission")
# After shutdownGrace the worker waits up to 5 s for cancelled lanes and 10 s for the recorder
# (VerificationWorker.run), then commits, leaves the group and flushes.
DRAIN_AFTER_GRACE_SECONDS = 15


def missing(package):
    sys.stderr.write(
        f"check-deploy: the Python package '{package}' is missing.\n"
        "Install them with: pip install pyyaml 'jsonschema>=4.18' kubernetes-validate check-jsonschema\n"
        "(scripts/setup does it)\n")
    sys.exit(3)


try:
    import yaml
except ImportError:
    missing("pyyaml")
try:
    import jsonschema
except ImportError:
    missing("jsonschema")
try:
    import kubernetes_validate
    import kubernetes_validate.utils
except ImportError:
    missing("kubernetes-validate")
try:
    import importlib.resources
    COMPOSE_SCHEMA_TEXT = (importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
                           .joinpath("compose-spec.json").read_text(encoding="utf-8"))
except (ImportError, ModuleNotFoundError, FileNotFoundError):
    missing("check-jsonschema")


# --------------------------------------------------------------------------------------------
# Reading


def read(root, *parts):
    with open(os.path.join(root, *parts), encoding="utf-8") as f:
        return f.read()


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def swift_files(root):
    for directory, _, files in os.walk(os.path.join(root, "Sources")):
        for name in sorted(files):
            if name.endswith(".swift"):
                yield os.path.join(directory, name)


ENV_READ_PATTERNS = (
    re.compile(r'environment\[\s*"([A-Z][A-Z0-9_]*)"\s*\]'),
    re.compile(r'\b(?:required|integer|flag)\(\s*"([A-Z][A-Z0-9_]*)"'),
    re.compile(r'\bvariable:\s*"([A-Z][A-Z0-9_]*)"'),
)
# Secrets are read as NAME or NAME_FILE (EnvironmentSecret): both count as read.
SECRET_READ_PATTERN = re.compile(r'\b(?:secret|EnvironmentSecret\.value)\(\s*"([A-Z][A-Z0-9_]*)"')


def variables_read(root):
    """Environment variable names the Swift sources read."""
    names = set()
    for path in swift_files(root):
        text = open(path, encoding="utf-8").read()
        for pattern in ENV_READ_PATTERNS:
            names.update(pattern.findall(text))
        for name in SECRET_READ_PATTERN.findall(text):
            names.update((name, name + "_FILE"))
    return names


def required_serve_variables(root):
    text = read(root, "Sources", "Worker", "Runtime", "ServiceSettings.swift")
    # Required secrets (`secret("NAME")`) may come as NAME or NAME_FILE: see missing_required.
    return set(re.findall(r'\b(?:required|secret)\(\s*"([A-Z][A-Z0-9_]*)"\s*\)', text))


def missing_required(required, present):
    """Required settings absent from `present`; a secret given as NAME_FILE counts."""
    return sorted(name for name in required if name not in present and name + "_FILE" not in present)


def subcommands(root):
    """The top-level subcommands of idverify: the types listed in IDVerify.swift, by commandName."""
    main = read(root, "Sources", "idverify", "IDVerify.swift")
    listed = re.search(r"commandName:\s*\"idverify\".*?subcommands:\s*\[(.*?)\]", main, re.S)
    types = set(re.findall(r"([A-Za-z0-9]+)\.self", listed.group(1))) if listed else set()
    names = set()
    for path in swift_files(root):
        if os.sep + "idverify" + os.sep in path:
            text = open(path, encoding="utf-8").read()
            for m in re.finditer(r"struct\s+([A-Za-z0-9]+)\s*:[^{]*\{", text):
                after = text[m.end():m.end() + 400]
                name = re.search(r'commandName:\s*"([a-z][a-z0-9-]*)"', after)
                if m.group(1) in types and name:
                    names.add(name.group(1))
    return names


def command_options(root, swift_file):
    """`--kebab-case` names of the @Option/@Flag properties declared in a command's file."""
    lines = read(root, "Sources", "idverify", swift_file).splitlines()
    props = []
    for i, line in enumerate(lines):
        if re.search(r"@(Option|Flag)\b", line):
            for candidate in lines[i:i + 3]:
                m = re.search(r"\bvar\s+([a-zA-Z0-9]+)", candidate)
                if m:
                    props.append(m.group(1))
                    break
    return {"--" + re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), p) for p in props}


def ops_routes(root):
    text = read(root, "Sources", "Ops", "Server", "OpsServer+Routes.swift")
    return {"/" + r for r in re.findall(r'router\.get\("([^"]+)"\)', text)}


def shutdown_grace_seconds(root):
    text = read(root, "Sources", "Worker", "WorkerConfiguration.swift")
    m = re.search(r"var shutdownGrace: Duration = \.seconds\((\d+)\)", text)
    if not m:
        raise ValueError("WorkerConfiguration.shutdownGrace not found in Sources/Worker/WorkerConfiguration.swift")
    return int(m.group(1))


def contract_topics(root):
    doc = yaml.safe_load(read(root, "schemas", "asyncapi.yaml"))
    return {c["address"] for c in doc["channels"].values()}


def duration_seconds(text):
    total = 0
    for amount, unit in re.findall(r"(\d+)(ms|h|m|s)", str(text)):
        total += int(amount) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


# --------------------------------------------------------------------------------------------
# The deployment files as the checks see them


class Deploy:
    def __init__(self, root):
        self.root = root
        self.deploy = os.path.join(root, "deploy")
        self.k8s = os.path.join(self.deploy, "kubernetes")

    def compose(self):
        return yaml.safe_load(read(self.root, "deploy", "compose.yaml"))

    def kustomization_dirs(self):
        dirs = []
        for directory, _, files in os.walk(self.k8s):
            if "kustomization.yaml" in files:
                dirs.append(directory)
        return sorted(dirs)

    def k8s_resources(self):
        """[(file, document)] of every resource listed by the kustomizations."""
        out = []
        for directory in self.kustomization_dirs():
            k = yaml.safe_load(open(os.path.join(directory, "kustomization.yaml"), encoding="utf-8"))
            for name in k.get("resources", []):
                path = os.path.join(directory, name)
                if os.path.isfile(path):
                    for doc in load_yaml_docs(path):
                        out.append((os.path.relpath(path, self.root), doc))
        return out

    def k8s_by_kind(self, kind):
        return [(f, d) for f, d in self.k8s_resources() if d.get("kind") == kind]

    def one(self, kind):
        found = self.k8s_by_kind(kind)
        if len(found) != 1:
            raise CheckError(f"expected one {kind} in deploy/kubernetes, found {len(found)}")
        return found[0][1]


class CheckError(Exception):
    pass


def is_idverify_service(service):
    image = str(service.get("image", "")).split(":")[0]
    build = service.get("build")
    dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
    return image in IDVERIFY_IMAGES or dockerfile.endswith("deploy/Dockerfile")


def is_idverify_container(container):
    image = str(container.get("image", "")).split(":")[0].split("/")[-1]
    return image in IDVERIFY_IMAGES


def pod_containers(doc):
    spec = doc.get("spec", {})
    if doc.get("kind") in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        return spec.get("template", {}).get("spec", {}).get("containers", [])
    return []


def compose_env(service):
    env = service.get("environment", {}) or {}
    if isinstance(env, list):
        return {e.split("=", 1)[0]: (e.split("=", 1)[1] if "=" in e else None) for e in env}
    return dict(env)


# --------------------------------------------------------------------------------------------
# Checks: each returns a list of problems (strings).


def check_yaml(root):
    problems = []
    for directory, _, files in os.walk(os.path.join(root, "deploy")):
        for name in sorted(files):
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            try:
                if name.endswith((".yaml", ".yml")):
                    if not load_yaml_docs(path):
                        problems.append(f"{rel}: no YAML document")
                elif name.endswith(".json"):
                    json.load(open(path, encoding="utf-8"))
            except (yaml.YAMLError, json.JSONDecodeError) as e:
                problems.append(f"{rel}: does not parse: {str(e).splitlines()[0]}")
    return problems


def check_compose(root):
    d = Deploy(root)
    problems = []
    compose = d.compose()
    schema = json.loads(COMPOSE_SCHEMA_TEXT)
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(compose), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.path) or "(top)"
        problems.append(f"deploy/compose.yaml: {where}: {error.message}")
    services = compose.get("services", {})

    # Topics: the job that creates them names each topic once, with RF 3 and min ISR 2.
    topic_jobs = [(n, s) for n, s in services.items()
                  if "kafka-topics.sh" in json.dumps(s.get("command", "")) and "--create" in json.dumps(s.get("command", ""))]
    if len(topic_jobs) != 1:
        problems.append(f"deploy/compose.yaml: expected one service that creates topics, found {len(topic_jobs)}")
    else:
        name, job = topic_jobs[0]
        script = job["command"] if isinstance(job["command"], str) else "\n".join(map(str, job["command"]))
        prefix = compose_env(services.get("worker", {})).get("TOPIC_PREFIX", "tthc.")
        expected = {t.replace("tthc.", prefix, 1) for t in contract_topics(root)}
        listed = set(re.findall(r"\b" + re.escape(prefix) + r"[a-z][a-z.-]*[a-z]", script))
        listed = {t for t in listed if t in expected or "identity" in t or "dossier" in t}
        if listed != expected:
            problems.append(f"deploy/compose.yaml: service {name} creates {sorted(listed)}, the contract's topics are {sorted(expected)}")
        if not re.search(r"--replication-factor\s+3\b", script):
            problems.append(f"deploy/compose.yaml: service {name} does not create topics with --replication-factor 3")
        if not re.search(r"min\.insync\.replicas=2\b", script):
            problems.append(f"deploy/compose.yaml: service {name} does not set min.insync.replicas=2")
        if not re.search(r"--partitions\s+\d+", script):
            problems.append(f"deploy/compose.yaml: service {name} does not give a partition count")

    # Brokers: three, KRaft.
    brokers = [n for n, s in services.items() if str(s.get("image", "")).startswith("apache/kafka")
               and "KAFKA_NODE_ID" in compose_env(s)]
    if len(brokers) != 3:
        problems.append(f"deploy/compose.yaml: expected 3 Kafka brokers (apache/kafka with KAFKA_NODE_ID), found {len(brokers)}")
    for n in brokers:
        env = compose_env(services[n])
        if "controller" not in str(env.get("KAFKA_PROCESS_ROLES", "")):
            problems.append(f"deploy/compose.yaml: {n} is not a KRaft controller (KAFKA_PROCESS_ROLES)")

    # Files the compose file mounts or builds from.
    for n, s in services.items():
        for volume in s.get("volumes", []) or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                path = os.path.normpath(os.path.join(d.deploy, source))
                if not os.path.exists(path):
                    problems.append(f"deploy/compose.yaml: service {n} mounts {source}, which does not exist")
        build = s.get("build")
        if isinstance(build, dict):
            context = os.path.normpath(os.path.join(d.deploy, build.get("context", ".")))
            dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                problems.append(f"deploy/compose.yaml: service {n} builds from {dockerfile}, which does not exist")
    return problems


def crd_schema(root, kind):
    path = os.path.join(root, "scripts", "deploy-schemas", f"{kind.lower()}.schema.json")
    if not os.path.isfile(path):
        return None
    return json.load(open(path, encoding="utf-8"))


def check_kubernetes(root):
    d = Deploy(root)
    problems = []
    dirs = d.kustomization_dirs()
    if not dirs:
        return ["deploy/kubernetes: no kustomization.yaml"]
    for directory in dirs:
        k = yaml.safe_load(open(os.path.join(directory, "kustomization.yaml"), encoding="utf-8"))
        listed = set(k.get("resources", []))
        rel = os.path.relpath(directory, root)
        for name in sorted(listed):
            if not os.path.isfile(os.path.join(directory, name)):
                problems.append(f"{rel}/kustomization.yaml lists {name}, which does not exist")
        for name in sorted(os.listdir(directory)):
            if name.endswith((".yaml", ".yml")) and name != "kustomization.yaml" and name not in listed:
                problems.append(f"{rel}/{name} is not listed in its kustomization.yaml")
    for rel, doc in d.k8s_resources():
        kind = doc.get("kind", "?")
        name = doc.get("metadata", {}).get("name", "?")
        schema = crd_schema(root, kind)
        if schema is not None:
            for error in jsonschema.Draft202012Validator(schema).iter_errors(doc):
                where = "/".join(str(p) for p in error.path) or "(top)"
                problems.append(f"{rel}: {kind}/{name}: {where}: {error.message}")
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.utils.SchemaNotFoundError as e:
                problems.append(f"{rel}: {kind}/{name}: no schema ({e.message}) and none in scripts/deploy-schemas")
                break
            except kubernetes_validate.utils.ValidationError as e:
                where = "/".join(str(p) for p in e.path) or "(top)"
                problems.append(f"{rel}: {kind}/{name}: Kubernetes {version}: {where}: {e.message}")
    # kubectl's own Kustomize, when there is one, must render the base (and its output validates).
    # An overlay like the README's (base + the prometheus-operator component) in a temporary folder.
    kubectl = shutil.which("kubectl")
    if kubectl:
        with tempfile.TemporaryDirectory(prefix="check-deploy-overlay-") as overlay:
            base = os.path.relpath(d.k8s, overlay)
            components = [os.path.relpath(x, overlay) for x in dirs if x != d.k8s]
            with open(os.path.join(overlay, "kustomization.yaml"), "w", encoding="utf-8") as f:
                yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                "namespace": "tthc", "resources": [base], "components": components}, f)
            run = subprocess.run([kubectl, "kustomize", overlay], capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            problems.append(f"kubectl kustomize (base + components) failed: {run.stderr.strip()[:500]}")
        else:
            rendered = [x for x in yaml.safe_load_all(run.stdout) if x]
            expected = len(d.k8s_resources())
            if len(rendered) != expected:
                problems.append(f"kubectl kustomize rendered {len(rendered)} resources, the kustomizations list {expected}")
            for doc in rendered:
                schema = crd_schema(root, doc.get("kind", ""))
                try:
                    if schema is not None:
                        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
                    else:
                        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
                except jsonschema.ValidationError as e:
                    problems.append(f"kubectl kustomize output: {doc.get('kind')}: {e.message}")
    return problems


def prometheus_rule_spec(root):
    return yaml.safe_load(read(root, "deploy", "prometheus", "alerts.yml"))


def check_consistency(root):
    d = Deploy(root)
    problems = []
    try:
        config = d.one("ConfigMap").get("data", {})
        deployment = d.one("Deployment")
        scaled = d.one("ScaledObject")
        service = d.one("Service")
        pdb = d.one("PodDisruptionBudget")
        rule = d.one("PrometheusRule")
        monitor = d.one("ServiceMonitor")
    except CheckError as e:
        return [str(e)]
    pod_labels = deployment["spec"]["template"]["metadata"].get("labels", {})

    # KEDA and the ConfigMap.
    prefix = config.get("TOPIC_PREFIX", "tthc.")
    expected_topics = sorted(prefix + "identity." + c for c in REQUEST_CHANNELS)
    triggers = [t for t in scaled["spec"].get("triggers", []) if t.get("type") == "kafka"]
    topics = sorted(t["metadata"].get("topic", "") for t in triggers)
    if topics != expected_topics:
        problems.append(f"ScaledObject: kafka triggers watch {topics}, the worker consumes {expected_topics} (TOPIC_PREFIX {prefix!r})")
    for t in triggers:
        m = t["metadata"]
        if m.get("consumerGroup") != config.get("KAFKA_GROUP_ID", "tthc-identity-verifier"):
            problems.append(f"ScaledObject: trigger {m.get('topic')}: consumerGroup {m.get('consumerGroup')!r} is not the ConfigMap's KAFKA_GROUP_ID")
        if m.get("bootstrapServers") != config.get("KAFKA_BROKERS"):
            problems.append(f"ScaledObject: trigger {m.get('topic')}: bootstrapServers differ from the ConfigMap's KAFKA_BROKERS")
        if m.get("offsetResetPolicy") != "earliest":
            problems.append(f"ScaledObject: trigger {m.get('topic')}: offsetResetPolicy must be earliest, like the worker")
    if scaled["spec"].get("scaleTargetRef", {}).get("name") != deployment["metadata"]["name"]:
        problems.append("ScaledObject: scaleTargetRef does not name the Deployment")
    partitions = compose_partitions(root)
    if partitions is not None and scaled["spec"].get("maxReplicaCount", 100) > partitions:
        problems.append(f"ScaledObject: maxReplicaCount {scaled['spec'].get('maxReplicaCount')} is above the {partitions} partitions per topic")
    if scaled["spec"].get("minReplicaCount", 0) > scaled["spec"].get("maxReplicaCount", 100):
        problems.append("ScaledObject: minReplicaCount above maxReplicaCount")

    # PrometheusRule = alerts.yml.
    if rule.get("spec") != prometheus_rule_spec(root):
        problems.append("PrometheusRule: spec differs from deploy/prometheus/alerts.yml "
                        "(run python3 scripts/check-deploy.py --write-prometheus-rule)")

    # Selectors.
    for name, selector in (("Service", service["spec"].get("selector", {})),
                           ("PodDisruptionBudget", pdb["spec"].get("selector", {}).get("matchLabels", {})),
                           ("Deployment", deployment["spec"]["selector"].get("matchLabels", {}))):
        if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
            problems.append(f"{name}: selector {selector} does not select the Deployment's pods {pod_labels}")
    monitor_selector = monitor["spec"].get("selector", {}).get("matchLabels", {})
    service_labels = service["metadata"].get("labels", {})
    if not monitor_selector or any(service_labels.get(k) != v for k, v in monitor_selector.items()):
        problems.append("ServiceMonitor: selector does not select the Service")
    port_names = {p.get("name") for p in service["spec"].get("ports", [])}
    for endpoint in monitor["spec"].get("endpoints", []):
        if endpoint.get("port") not in port_names:
            problems.append(f"ServiceMonitor: port {endpoint.get('port')!r} is not a port of the Service")

    # Probes and the drain.
    routes = ops_routes(root)
    containers = [c for c in pod_containers(deployment) if is_idverify_container(c)]
    for c in containers:
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            got = c.get(probe, {}).get("httpGet", {}).get("path")
            if got != path:
                problems.append(f"Deployment: container {c['name']}: {probe} must GET {path}, it GETs {got}")
            if got and got not in routes:
                problems.append(f"Deployment: container {c['name']}: {probe} path {got} is not a route of OpsServer ({sorted(routes)})")
    drain = shutdown_grace_seconds(root) + DRAIN_AFTER_GRACE_SECONDS
    grace = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    if grace <= drain:
        problems.append(f"Deployment: terminationGracePeriodSeconds {grace} is not longer than the drain ({drain} s)")
    worker = d.compose().get("services", {}).get("worker", {})
    stop = duration_seconds(worker.get("stop_grace_period", "10s"))
    if stop <= drain:
        problems.append(f"deploy/compose.yaml: worker stop_grace_period {stop} s is not longer than the drain ({drain} s)")
    problems += compose_wiring(d.compose())
    dockerfile = read(root, "deploy", "Dockerfile")
    m = re.search(r"^HEALTHCHECK .*?(/[a-z]+)\"?\s", dockerfile.replace("\\\n", " "), re.M)
    if not m or m.group(1) != "/healthz":
        problems.append("deploy/Dockerfile: HEALTHCHECK must GET /healthz")
    return problems


def compose_wiring(compose):
    """Within compose.yaml: the workers reach the brokers, PostgreSQL and the simulator it defines."""
    problems = []
    services = compose.get("services", {})
    worker = compose_env(services.get("worker", {}))
    where = "deploy/compose.yaml: worker"
    advertised = set()
    for s in services.values():
        for listener in str(compose_env(s).get("KAFKA_ADVERTISED_LISTENERS", "")).split(","):
            if "://" in listener:
                advertised.add(listener.split("://", 1)[1])
    for broker in str(worker.get("KAFKA_BROKERS", "")).split(","):
        if broker not in advertised:
            problems.append(f"{where}: KAFKA_BROKERS names {broker}, which no broker advertises ({sorted(advertised)})")
    url = re.match(r"postgres(?:ql)?://([^:@/]+)(?::([^@/]*))?@([^:/]+)(?::(\d+))?/([^?]+)", str(worker.get("DATABASE_URL", "")))
    postgres = compose_env(services.get(url.group(3), {})) if url else {}
    if not url or "POSTGRES_USER" not in postgres:
        problems.append(f"{where}: DATABASE_URL does not name the PostgreSQL service")
    else:
        for got, name in ((url.group(1), "POSTGRES_USER"), (url.group(2), "POSTGRES_PASSWORD"), (url.group(5), "POSTGRES_DB")):
            if got != str(postgres.get(name)):
                problems.append(f"{where}: DATABASE_URL does not match the PostgreSQL service's {name}")
    migrate = compose_env(services.get("migrate", {}))
    if migrate.get("DATABASE_URL") != worker.get("DATABASE_URL"):
        problems.append("deploy/compose.yaml: migrate and worker have different DATABASE_URLs")
    registry = re.match(r"https?://([^:/]+):(\d+)", str(worker.get("REGISTRY_URL", "")))
    sim = services.get(registry.group(1), {}) if registry else {}
    options = dict(a.split("=", 1) for a in sim.get("command", []) if isinstance(a, str) and a.startswith("--") and "=" in a)
    if not registry or not sim:
        problems.append(f"{where}: REGISTRY_URL does not name the simulator service")
    else:
        if options.get("--port", "8089") != registry.group(2):
            problems.append(f"{where}: REGISTRY_URL port {registry.group(2)} is not the simulator's --port")
        if options.get("--host", "127.0.0.1") != "0.0.0.0":
            problems.append("deploy/compose.yaml: the simulator must listen on --host=0.0.0.0 to be reached from other containers")
        if options.get("--token", "dev-registry-token") != worker.get("REGISTRY_TOKEN"):
            problems.append(f"{where}: REGISTRY_TOKEN is not the simulator's --token")
        quota = int(options.get("--quota", "0"))
        if quota and int(worker.get("REGISTRY_RATE_LIMIT", "100")) > quota:
            problems.append(f"{where}: REGISTRY_RATE_LIMIT is above the simulator's --quota")
    return problems


def compose_partitions(root):
    try:
        text = json.dumps(Deploy(root).compose()["services"])
    except (KeyError, yaml.YAMLError):
        return None
    m = re.search(r"--partitions\s+(\d+)", text)
    return int(m.group(1)) if m else None


def dockerfile_env(root):
    text = read(root, "deploy", "Dockerfile").replace("\\\n", " ")
    names = set()
    for line in text.splitlines():
        m = re.match(r"\s*ENV\s+(.*)", line)
        if m:
            rest = m.group(1)
            if "=" in rest:
                names.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", rest))
            else:
                names.add(rest.split()[0])
    return names


def check_environment(root):
    d = Deploy(root)
    problems = []
    known = variables_read(root)
    if not known:
        return ["found no environment variable read in Sources/ (the patterns in check-deploy.py are stale)"]
    required = required_serve_variables(root)

    def judge(where, names):
        for name in sorted(set(names) - known):
            problems.append(f"{where} sets {name}, which the service does not read")

    for name in sorted(dockerfile_env(root) - known):
        problems.append(f"deploy/Dockerfile sets ENV {name}, which the service does not read")

    services = d.compose().get("services", {})
    for n, s in services.items():
        if not is_idverify_service(s):
            continue
        env = compose_env(s)
        judge(f"deploy/compose.yaml service {n}", env)
        command = s.get("command", [])
        command = command if isinstance(command, list) else str(command).split()
        if command[:1] == ["serve"]:
            for name in missing_required(required, set(env)):
                problems.append(f"deploy/compose.yaml service {n} runs serve without {name}")
        if command[:1] == ["migrate"] and "DATABASE_URL" not in env:
            problems.append(f"deploy/compose.yaml service {n} runs migrate without DATABASE_URL")

    config_maps = {doc["metadata"]["name"]: set(doc.get("data", {})) for _, doc in d.k8s_by_kind("ConfigMap")}
    secrets = {doc["metadata"]["name"]: set(doc.get("stringData", {})) | set(doc.get("data", {}))
               for _, doc in d.k8s_by_kind("Secret")}
    for rel, doc in d.k8s_resources():
        for c in pod_containers(doc):
            if not is_idverify_container(c):
                continue
            where = f"{rel} {doc['kind']}/{doc['metadata']['name']} container {c['name']}"
            names = {e["name"] for e in c.get("env", [])}
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    ref = source["configMapRef"]["name"]
                    if ref not in config_maps:
                        problems.append(f"{where}: envFrom ConfigMap {ref} is not in deploy/kubernetes")
                    names |= {k for k in config_maps.get(ref, set())}
                if "secretRef" in source:
                    ref = source["secretRef"]["name"]
                    if ref not in secrets:
                        problems.append(f"{where}: envFrom Secret {ref} is not in deploy/kubernetes")
                    names |= {k for k in secrets.get(ref, set())}
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref.get("key") not in secrets.get(ref.get("name"), set()):
                    problems.append(f"{where}: {e['name']} refers to {ref.get('name')}/{ref.get('key')}, which is not in a Secret here")
            judge(where, names)
            args = c.get("args", c.get("command", []))
            if args[:1] == ["serve"]:
                for name in missing_required(required, names):
                    problems.append(f"{where} runs serve without {name}")
            if args[:1] == ["migrate"] and "DATABASE_URL" not in names:
                problems.append(f"{where} runs migrate without DATABASE_URL")
    return problems


def check_commands(root):
    d = Deploy(root)
    problems = []
    known = subcommands(root)
    sim_options = command_options(root, "RegistrySimCommand.swift")
    runs = []
    for n, s in d.compose().get("services", {}).items():
        if is_idverify_service(s):
            command = s.get("command", ["serve"])
            runs.append((f"deploy/compose.yaml service {n}", command if isinstance(command, list) else str(command).split()))
    for rel, doc in d.k8s_resources():
        for c in pod_containers(doc):
            if is_idverify_container(c):
                runs.append((f"{rel} container {c['name']}", c.get("args", ["serve"])))
    m = re.search(r'^CMD\s+(\[.*\])', read(root, "deploy", "Dockerfile"), re.M)
    runs.append(("deploy/Dockerfile CMD", json.loads(m.group(1)) if m else []))
    for where, argv in runs:
        if not argv or argv[0] not in known:
            problems.append(f"{where} runs idverify {argv[:1]}, which is not a subcommand ({sorted(known)})")
            continue
        if argv[0] == "registry-sim":
            for arg in argv[1:]:
                option = arg.split("=", 1)[0]
                if option.startswith("--") and option not in sim_options:
                    problems.append(f"{where}: registry-sim has no option {option}")
    return problems


def dockerignore_patterns(root):
    path = os.path.join(root, ".dockerignore")
    if not os.path.isfile(path):
        return []
    return [line.strip() for line in open(path, encoding="utf-8") if line.strip() and not line.startswith("#")]


def check_dockerfile(root):
    problems = []
    text = read(root, "deploy", "Dockerfile").replace("\\\n", " ")
    ignored = dockerignore_patterns(root)
    copies = 0
    for line in text.splitlines():
        m = re.match(r"\s*(COPY|ADD)\s+(.*)", line)
        if not m:
            continue
        parts = [p for p in m.group(2).split() if not p.startswith("--")]
        if "--from=" in m.group(2):
            continue
        copies += 1
        for source in parts[:-1]:
            path = os.path.join(root, source)
            if not os.path.exists(path):
                problems.append(f"deploy/Dockerfile copies {source}, which does not exist in the build context (the repository root)")
            for pattern in ignored:
                p = pattern.lstrip("/").rstrip("/")
                if fnmatch.fnmatch(source.rstrip("/"), p) or fnmatch.fnmatch(source.rstrip("/"), p.replace("**/", "")):
                    problems.append(f"deploy/Dockerfile copies {source}, which .dockerignore excludes ({pattern})")
    if copies == 0:
        problems.append("deploy/Dockerfile copies nothing from the build context")
    if not re.search(r"^USER\s+(?!root|0\b)\S+", text, re.M):
        problems.append("deploy/Dockerfile: the runtime stage must run as a non-root USER")
    if "--static-swift-stdlib" not in text:
        problems.append("deploy/Dockerfile: the build must use --static-swift-stdlib")
    return problems


CHECKS = (
    ("yaml", check_yaml),
    ("compose", check_compose),
    ("kubernetes", check_kubernetes),
    ("consistency", check_consistency),
    ("environment", check_environment),
    ("commands", check_commands),
    ("dockerfile", check_dockerfile),
)


def run_checks(root, names=None, quiet=False):
    results = {}
    for name, check in CHECKS:
        if names and name not in names:
            continue
        try:
            problems = check(root)
        except (CheckError, ValueError, KeyError, TypeError, OSError, yaml.YAMLError) as e:
            problems = [f"could not run: {type(e).__name__}: {e}"]
        results[name] = problems
        if not quiet:
            print(f"check-deploy: {name}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
            for p in problems:
                print(f"  - {p}")
    return results


# --------------------------------------------------------------------------------------------
# Self-test: every check can fail.


def edit(root, rel, old, new, count=1):
    path = os.path.join(root, rel)
    text = open(path, encoding="utf-8").read()
    if old not in text:
        raise AssertionError(f"self-test: {old!r} not in {rel}")
    open(path, "w", encoding="utf-8").write(text.replace(old, new, count))


def append(root, rel, text):
    with open(os.path.join(root, rel), "a", encoding="utf-8") as f:
        f.write(text)


MUTATIONS = (
    # (check that must fail, what the problem must mention, description, mutation)
    ("yaml", "does not parse", "a YAML file that does not parse",
     lambda r: append(r, "deploy/compose/prometheus.yml", "\n  broken: [unclosed\n")),
    ("compose", "restart_policy", "an unknown service key in compose.yaml",
     lambda r: edit(r, "deploy/compose.yaml", "    stop_grace_period: 60s", "    stop_grace_period: 60s\n    restart_policy: always")),
    ("compose", "contract's topics", "a contract topic missing from the topic job",
     lambda r: edit(r, "deploy/compose.yaml", " tthc.dossier.events; do", "; do")),
    ("compose", "replication-factor 3", "topics created with replication factor 1",
     lambda r: edit(r, "deploy/compose.yaml", "--replication-factor 3", "--replication-factor 1")),
    ("compose", "min.insync.replicas=2", "topics created without min.insync.replicas=2",
     lambda r: edit(r, "deploy/compose.yaml", "--config min.insync.replicas=2", "--config min.insync.replicas=1")),
    ("compose", "does not exist", "a mounted file that does not exist",
     lambda r: os.remove(os.path.join(r, "deploy/compose/grafana-dashboards.yaml"))),
    ("kubernetes", "containerPort", "a Deployment port that is not a number",
     lambda r: edit(r, "deploy/kubernetes/deployment.yaml", "containerPort: 8080", "containerPort: eighty")),
    ("kubernetes", "livenesProbe", "a misspelt Deployment field (strict schemas)",
     lambda r: edit(r, "deploy/kubernetes/deployment.yaml", "livenessProbe:", "livenesProbe:")),
    ("kubernetes", "not listed", "a manifest the kustomization does not list",
     lambda r: shutil.copy(os.path.join(r, "deploy/kubernetes/service.yaml"), os.path.join(r, "deploy/kubernetes/extra.yaml"))),
    ("kubernetes", "ScaledObject", "a KEDA trigger without a type",
     lambda r: edit(r, "deploy/kubernetes/scaledobject.yaml", "    - type: kafka\n", "    - kind: kafka\n")),
    ("kubernetes", "ServiceMonitor", "a ServiceMonitor endpoint with an unknown field",
     lambda r: edit(r, "deploy/kubernetes/prometheus-operator/servicemonitor.yaml", "      interval: 15s", "      intervall: 15s")),
    ("consistency", "consumerGroup", "a KEDA consumer group that is not the worker's",
     lambda r: edit(r, "deploy/kubernetes/scaledobject.yaml", "consumerGroup: tthc-identity-verifier", "consumerGroup: other-group")),
    ("consistency", "triggers watch", "a KEDA topic that is not a request topic",
     lambda r: edit(r, "deploy/kubernetes/scaledobject.yaml", "topic: tthc.identity.submission", "topic: tthc.identity.verdicts")),
    ("consistency", "maxReplicaCount", "a KEDA maximum above the partition count",
     lambda r: edit(r, "deploy/kubernetes/scaledobject.yaml", "maxReplicaCount: 4", "maxReplicaCount: 40")),
    ("consistency", "alerts.yml", "alerts.yml changed without the PrometheusRule",
     lambda r: edit(r, "deploy/prometheus/alerts.yml", "> 10\n", "> 11\n")),
    ("consistency", "readinessProbe", "a readiness probe on a path the service does not serve",
     lambda r: edit(r, "deploy/kubernetes/deployment.yaml", "path: /readyz", "path: /ready")),
    ("consistency", "terminationGracePeriodSeconds", "a termination grace shorter than the drain",
     lambda r: edit(r, "deploy/kubernetes/deployment.yaml", "terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: 30")),
    ("consistency", "stop_grace_period", "a compose stop grace shorter than the drain",
     lambda r: edit(r, "deploy/compose.yaml", "stop_grace_period: 60s", "stop_grace_period: 20s")),
    ("consistency", "drain", "a longer drain in the Swift code than the grace allows",
     lambda r: edit(r, "Sources/Worker/WorkerConfiguration.swift", "shutdownGrace: Duration = .seconds(20)", "shutdownGrace: Duration = .seconds(50)")),
    ("consistency", "advertises", "workers pointed at a broker that does not exist",
     lambda r: edit(r, "deploy/compose.yaml", "KAFKA_BROKERS: kafka-1:9092,kafka-2:9092,kafka-3:9092", "KAFKA_BROKERS: kafka-1:9092,kafka-4:9092")),
    ("consistency", "POSTGRES_PASSWORD", "a database password that is not PostgreSQL's",
     lambda r: edit(r, "deploy/compose.yaml", "postgres://idverify:${POSTGRES_PASSWORD:-idverify-dev}@postgres:5432/idverify?sslmode=disable\n  REGISTRY_URL",
                    "postgres://idverify:other@postgres:5432/idverify?sslmode=disable\n  REGISTRY_URL")),
    ("consistency", "--token", "a registry token the simulator does not accept",
     lambda r: edit(r, "deploy/compose.yaml", "--token=${REGISTRY_TOKEN:-dev-registry-token}", "--token=${REGISTRY_TOKEN:-other-token}")),
    ("consistency", "0.0.0.0", "a simulator listening on loopback only",
     lambda r: edit(r, "deploy/compose.yaml", "--host=0.0.0.0", "--host=127.0.0.1")),
    ("environment", "REGISTRY_TOKN", "a misspelt variable in compose",
     lambda r: edit(r, "deploy/compose.yaml", "  REGISTRY_TOKEN: ${REGISTRY_TOKEN", "  REGISTRY_TOKN: ${REGISTRY_TOKEN")),
    ("environment", "KAFKA_BROKER", "a misspelt variable in the ConfigMap",
     lambda r: edit(r, "deploy/kubernetes/configmap.yaml", "  KAFKA_BROKERS:", "  KAFKA_BROKER:")),
    ("environment", "SUBJECT_REF_KEY", "a required setting missing from the Secret",
     lambda r: edit(r, "deploy/kubernetes/secret.yaml", "  SUBJECT_REF_KEY: REPLACE-ME\n", "")),
    ("environment", "REGISTRY_LIMITER", "a setting the code stops reading (names come from Sources/)",
     lambda r: edit(r, "Sources/Worker/Runtime/ServiceSettings.swift", 'environment["REGISTRY_LIMITER"]', 'environment["REGISTRY_LIMITER_MODE"]')),
    ("environment", "TZ", "an ENV in the Dockerfile the service does not read",
     lambda r: edit(r, "deploy/Dockerfile", "ENV LOG_FORMAT=json", "ENV TZ=UTC LOG_FORMAT=json")),
    ("commands", "migrat", "a subcommand that does not exist",
     lambda r: edit(r, "deploy/compose.yaml", 'command: ["migrate"]', 'command: ["migrat"]')),
    ("commands", "--latency", "a simulator option that does not exist",
     lambda r: edit(r, "deploy/compose.yaml", "--latency-ms=40", "--latency=40")),
    ("dockerfile", "does not exist", "a COPY of a file that does not exist",
     lambda r: edit(r, "deploy/Dockerfile", "COPY Tests ./Tests", "COPY Tests ./Tests\nCOPY Resources ./Resources")),
    ("dockerfile", ".dockerignore", "a COPY of a folder .dockerignore excludes",
     lambda r: append(r, ".dockerignore", "\nSources\n")),
)

if shutil.which("kubectl"):
    MUTATIONS += (
        ("kubernetes", "kubectl kustomize", "a component that Kustomize cannot render",
         lambda r: edit(r, "deploy/kubernetes/prometheus-operator/kustomization.yaml", "kind: Component", "kind: Kustomization")),
    )

COPIED = ("deploy", "scripts", "Sources", "schemas", "Tests", "Package.swift", ".dockerignore")


def make_copy(root, into):
    for name in COPIED:
        source = os.path.join(root, name)
        target = os.path.join(into, name)
        if os.path.isdir(source):
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".build*"))
        elif os.path.exists(source):
            shutil.copy(source, target)


def self_test(root):
    failures = []
    with tempfile.TemporaryDirectory(prefix="check-deploy-") as base:
        clean = os.path.join(base, "clean")
        make_copy(root, clean)
        results = run_checks(clean, quiet=True)
        bad = {k: v for k, v in results.items() if v}
        if bad:
            print(f"self-test: the unchanged copy fails: {bad}")
            return 1
        for i, (check, needle, what, mutate) in enumerate(MUTATIONS):
            copy_root = os.path.join(base, f"m{i}")
            shutil.copytree(clean, copy_root)
            try:
                mutate(copy_root)
            except AssertionError as e:  # the text a mutation edits has changed: update MUTATIONS
                failures.append(f"{check}: cannot make '{what}': {e}")
                print(f"self-test: {check}: CANNOT BREAK the copy for {what}: {e}")
                continue
            problems = run_checks(copy_root, names={check}, quiet=True)[check]
            caught = [p for p in problems if needle in p]
            if caught:
                print(f"self-test: {check}: caught {what}: {caught[0]}")
            else:
                failures.append(f"{check} did not catch {what} (problems: {problems})")
                print(f"self-test: {check}: MISSED {what}")
            shutil.rmtree(copy_root)
    checks_tested = {m[0] for m in MUTATIONS}
    untested = [name for name, _ in CHECKS if name not in checks_tested]
    if untested:
        failures.append(f"checks without a mutation: {untested}")
    for f in failures:
        print(f"self-test: FAILED: {f}")
    print(f"self-test: {len(MUTATIONS)} broken copies, {len(failures)} problem(s) with the checks themselves")
    return 1 if failures else 0


def write_prometheus_rule(root):
    path = os.path.join(root, "deploy", "kubernetes", "prometheus-operator", "prometheusrule.yaml")
    text = open(path, encoding="utf-8").read()
    header = "".join(line for line in text.splitlines(True) if line.startswith("#"))
    doc = next(d for d in yaml.safe_load_all(text) if d)
    doc["spec"] = prometheus_rule_spec(root)

    class Dumper(yaml.SafeDumper):
        pass
    Dumper.add_representer(str, lambda d, v: d.represent_scalar(
        "tag:yaml.org,2002:str", v, style="|" if "\n" in v else None))
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=120, allow_unicode=True))
    print(f"wrote {os.path.relpath(path, root)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--self-test", action="store_true", help="prove that each check can fail")
    parser.add_argument("--write-prometheus-rule", action="store_true",
                        help="copy deploy/prometheus/alerts.yml into the PrometheusRule")
    parser.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_prometheus_rule:
        write_prometheus_rule(args.root)
        return 0
    if args.self_test:
        return self_test(args.root)
    results = run_checks(args.root)
    failed = [k for k, v in results.items() if v]
    print(f"check-deploy: {'all checks hold' if not failed else 'failing: ' + ', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
