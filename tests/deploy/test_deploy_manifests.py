"""deploy/ held to the code it deploys: Dockerfile, compose file, Kubernetes and KubeRay manifests.

No container engine or cluster runs here, so these tests check what would otherwise drift
silently: every environment variable is one agentcoord.config reads, every command parses with
the real CLI and job parsers, health checks name the services the servers register, ports,
addresses, Secrets, ConfigMaps and mounts line up, and the compose health check passes against a
live server started with the compose configuration.
"""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from agentcoord.actors import ray_system_config
from agentcoord.cli.main import build_parser
from agentcoord.config import Config, load_agents
from agentcoord.jobs import cost_report, run_missions
from agentcoord.missions import load_mission_file
from agentcoord.policy import ActionRequest, Effect, load_policy
from agentcoord.prices import load_price_table
from agentcoord.services.context import ServiceContext
from agentcoord.services.host import SERVICE_MODULES, start_services

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBE = DEPLOY / "kubernetes"
CONFIG_DIR = KUBE / "config"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
IMAGE: str = COMPOSE["x-agentcoord"]["image"]
KUSTOMIZATION: dict[str, Any] = yaml.safe_load((KUBE / "kustomization.yaml").read_text())


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _config_env_names() -> set[str]:
    """Names agentcoord/config.py reads: env.get("X") and _port(env, "X", ...)."""
    source = (REPO / "agentcoord" / "config.py").read_text()
    return set(re.findall(r'(?:env\.get\(|_port\(env,\s*)"([A-Z][A-Z0-9_]*)"', source))


def _generated_configmaps() -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    for generator in KUSTOMIZATION["configMapGenerator"]:
        data = {Path(f).name: (KUBE / f).read_text() for f in generator.get("files", [])}
        data.update(literal.split("=", 1) for literal in generator.get("literals", []))
        maps[generator["name"]] = data
    return maps


CONFIGMAPS = _generated_configmaps()
KUBE_DOCS = [doc for path in sorted(KUBE.glob("*.yaml")) if path.name != "kustomization.yaml" for doc in _docs(path)]
RAY_DOCS = [doc for path in sorted((DEPLOY / "kuberay").glob("*.yaml")) for doc in _docs(path)]
ALL_DOCS = KUBE_DOCS + RAY_DOCS
(RAYCLUSTER,) = [doc for doc in RAY_DOCS if doc["kind"] == "RayCluster"]


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(role, pod spec) of every Deployment and Ray node group."""
    for doc in ALL_DOCS:
        if doc["kind"] == "Deployment":
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
    yield "ray-head", RAYCLUSTER["spec"]["headGroupSpec"]["template"]["spec"]
    for group in RAYCLUSTER["spec"]["workerGroupSpecs"]:
        yield "ray-worker", group["template"]["spec"]


def _containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for role, pod in _pod_specs():
        for container in pod["containers"]:
            assert container["image"] == IMAGE, (role, container["image"])
            yield role, pod, container


def _kube_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment: envFrom ConfigMaps, then env (Secrets as secret:name/key)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(CONFIGMAPS[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        env[item["name"]] = f"secret:{ref['name']}/{ref['key']}" if ref else str(item["value"])
    return env


def _served(argv: list[str]) -> list[str]:
    """The services an `agentcoord ...` command line hosts (none unless it is `serve`)."""
    args = build_parser().parse_args(argv)
    return list(args.services) if args.command == "serve" else []


def _compose_agentcoord() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, service in COMPOSE["services"].items():
        if service.get("image") == IMAGE:
            yield name, service


class Server(NamedTuple):
    """A compose service or a Kubernetes container running `agentcoord serve`."""

    name: str
    services: list[str]
    env: dict[str, str]
    spec: dict[str, Any]
    compose: bool


def _servers() -> Iterator[Server]:
    for name, service in _compose_agentcoord():
        if "entrypoint" not in service and _served(service["command"]):
            env = {k: str(v) for k, v in service["environment"].items()}
            yield Server(name, _served(service["command"]), env, service, compose=True)
    for role, _pod, container in _containers():
        if "command" not in container and "args" in container and _served(container["args"]):
            yield Server(role, _served(container["args"]), _kube_env(container), container, compose=False)


def _names_of(services: list[str]) -> set[str]:
    return {n for s in services for n in importlib.import_module(SERVICE_MODULES[s]).SERVICE_NAMES}


def test_every_env_var_set_is_one_config_reads() -> None:
    known = _config_env_names()
    assert {"DATABASE_URL", "RAY_ADDRESS", "AGENTCOORD_GRPC_PORT", "AGENTCOORD_PRICES_FILE"} <= known
    used = {k for _, s in _compose_agentcoord() for k in s["environment"]}
    used |= {k for _, _, c in _containers() for k in _kube_env(c)}
    ray_settings = {k for k in used if re.fullmatch(r"RAY_[a-z_]+", k)}  # Ray's own system config
    assert ray_settings == {f"RAY_{name}" for name in ray_system_config(1)}  # what a Ray we start gets
    assert used - known - ray_settings == set()
    docker_env = set(re.findall(r"^(?:ENV\s+|\s+)([A-Z][A-Z0-9_]*)=", DOCKERFILE, re.MULTILINE))
    assert "AGENTCOORD_DATA_DIR" in docker_env
    assert {n for n in docker_env if not n.startswith(("PYTHON", "PIP_"))} <= known


def test_readme_explains_every_env_var() -> None:
    readme = (DEPLOY / "README.md").read_text()
    assert [name for name in sorted(_config_env_names()) if f"`{name}`" not in readme] == []
    assert "not run against a container engine or cluster" in " ".join(readme.replace("*", "").split())


def test_agentcoord_commands_parse_with_the_real_cli() -> None:
    commands = [s["command"] for _, s in _compose_agentcoord() if "entrypoint" not in s]
    commands += [c["args"] for _, _, c in _containers() if "command" not in c and "args" in c]
    assert len(commands) >= 5
    for argv in commands:
        build_parser().parse_args(argv)  # exits (fails the test) on an unknown command or choice


def test_serving_containers_bind_all_interfaces_and_are_not_combined() -> None:
    # A server hosting every service advertises its own bind address to the Ray actors.
    servers = list(_servers())
    assert {s.name for s in servers} >= {"services", "mission", "agentcoord-mission", "agentcoord-audit"}
    for server in servers:
        assert server.env["AGENTCOORD_GRPC_HOST"] == "0.0.0.0", server.name
        assert set(server.services) != set(SERVICE_MODULES), server.name


def test_kubernetes_grpc_probes_name_the_hosted_services() -> None:
    for server in (s for s in _servers() if not s.compose):
        (grpc_port,) = [p["containerPort"] for p in server.spec["ports"] if p["name"] == "grpc"]
        assert grpc_port == int(server.env["AGENTCOORD_GRPC_PORT"]), server.name
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            check = server.spec[probe]["grpc"]
            assert check["port"] == grpc_port, (server.name, probe)
            assert check["service"] in _names_of(server.services), (server.name, probe)


def test_compose_health_checks_cover_exactly_the_hosted_services() -> None:
    for server in (s for s in _servers() if s.compose):
        test = server.spec["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], server.name
        assert test[4] == f"127.0.0.1:{server.env['AGENTCOORD_GRPC_PORT']}", server.name
        assert set(test[5:]) == _names_of(server.services), server.name


def test_compose_health_script_passes_against_a_server_run_with_the_compose_config(
    runner, make_db, fresh_database_url, tmp_path
) -> None:
    service = COMPOSE["services"]["services"]
    env = {k: str(v) for k, v in service["environment"].items()}
    env |= {"DATABASE_URL": fresh_database_url, "AGENTCOORD_DATA_DIR": str(tmp_path)}
    (mount,) = [v for v in service["volumes"] if isinstance(v, dict)]
    for key in ("AGENTCOORD_AGENTS_FILE", "AGENTCOORD_POLICY_FILE", "AGENTCOORD_PRICES_FILE"):
        env[key] = env[key].replace(mount["target"], str((DEPLOY / mount["source"]).resolve()))
    config = Config.from_env(env)
    hosted = runner.run(start_services(
        _served(service["command"]), ServiceContext(config, make_db(fresh_database_url)), host="127.0.0.1", port=0
    ))
    try:
        script, names = service["healthcheck"]["test"][3], service["healthcheck"]["test"][5:]
        address = f"127.0.0.1:{hosted.port}"
        ok = subprocess.run([sys.executable, "-c", script, address, *names], check=False, capture_output=True, timeout=60)
        assert ok.returncode == 0, ok.stderr
        bad = subprocess.run([sys.executable, "-c", script, address, "agentcoord.v1.NoSuchService"],
                             check=False, capture_output=True, timeout=60)
        assert bad.returncode != 0
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for name in names:
                status = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
                assert status == health_pb2.HealthCheckResponse.SERVING
    finally:
        runner.run(hosted.stop())


def test_service_addresses_reach_a_server_hosting_that_service() -> None:
    compose_servers = {s.name: s for s in _servers() if s.compose}
    kube_servers = {s.name: s for s in _servers() if not s.compose}
    kube_services = {d["metadata"]["name"]: d for d in KUBE_DOCS if d["kind"] == "Service"}
    envs = [(True, {k: str(v) for k, v in s["environment"].items()}) for _, s in _compose_agentcoord()]
    envs += [(False, _kube_env(c)) for _, _, c in _containers()]
    for compose, env in envs:
        for service in SERVICE_MODULES:
            address = env.get(f"AGENTCOORD_{service.upper()}_ADDR") or env.get("AGENTCOORD_GRPC_ADDR")
            if address is None:
                continue
            host, port = address.rsplit(":", 1)
            if compose:
                server = compose_servers[host]
                assert service in server.services and port == server.env["AGENTCOORD_GRPC_PORT"], address
            else:
                svc = kube_services[host]
                assert int(port) in [p["port"] for p in svc["spec"]["ports"]], address
                assert service in kube_servers[svc["spec"]["selector"]["app.kubernetes.io/name"]].services, address


def test_mission_service_joins_the_ray_head_as_a_ray_client() -> None:
    head = COMPOSE["services"]["ray-head"]
    client_port = re.search(r"--ray-client-server-port=(\d+)", " ".join(head["command"]))
    assert client_port and "RAY_ADDRESS" not in head["environment"]  # Ray sets it for job drivers
    head_container = RAYCLUSTER["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    (kube_port,) = [p["containerPort"] for p in head_container["ports"] if p["name"] == "client"]
    expected = {True: f"ray://ray-head:{client_port.group(1)}",
                False: f"ray://{RAYCLUSTER['metadata']['name']}-head-svc:{kube_port}"}
    with_mission = [s for s in _servers() if "mission" in s.services]
    assert len(with_mission) == 2
    for server in with_mission:
        assert server.env["RAY_ADDRESS"] == expected[server.compose], server.name
    assert "RAY_ADDRESS" not in _kube_env(head_container)


def test_kubernetes_services_select_a_deployment_and_target_its_ports() -> None:
    deployments = {d["metadata"]["name"]: d for d in KUBE_DOCS if d["kind"] == "Deployment"}
    for svc in (d for d in KUBE_DOCS if d["kind"] == "Service"):
        selector = svc["spec"]["selector"].items()
        matched = [d for d in deployments.values() if selector <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matched) == 1, svc["metadata"]["name"]
        assert selector <= matched[0]["spec"]["selector"]["matchLabels"].items()
        ports = [p for c in matched[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]]
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in [p["name"] for p in ports] + [p["containerPort"] for p in ports]


def test_secrets_configmaps_and_claims_referenced_exist() -> None:
    secrets = {(d["metadata"]["name"], k) for d in _docs(KUBE / "secret.example.yaml") for k in d["stringData"]}
    claims = {d["metadata"]["name"] for d in ALL_DOCS if d["kind"] == "PersistentVolumeClaim"}
    for role, pod, container in _containers():
        for value in _kube_env(container).values():
            if value.startswith("secret:"):
                assert tuple(value.removeprefix("secret:").split("/")) in secrets, role
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in CONFIGMAPS, role
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, role
        mounts = {m["name"] for m in container.get("volumeMounts", [])}
        assert mounts <= {v["name"] for v in pod.get("volumes", [])}, role


def _mounts(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    return {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}


def test_config_files_and_state_dir_are_mounted_wherever_they_are_read() -> None:
    (mission,) = [s for s in _servers() if not s.compose and s.services == ["mission"]]
    for role, pod, container in _containers():
        mounts = _mounts(pod, container)
        # Ray nodes read the mission service's paths: the actors get its configuration.
        on_ray = role.startswith("ray-")
        paths = mission.env if on_ray else _kube_env(container)
        for key in ("AGENTCOORD_AGENTS_FILE", "AGENTCOORD_POLICY_FILE", "AGENTCOORD_PRICES_FILE"):
            if key in paths:
                file = Path(paths[key])
                assert mounts[str(file.parent)]["configMap"]["name"] == "agentcoord-config", (role, key)
                assert file.name in CONFIGMAPS["agentcoord-config"], (role, key)
        writes_state = on_ray or "audit" in container.get("args", [])
        if writes_state:  # audit signing key and checkpoints; task worktrees
            assert paths["AGENTCOORD_DATA_DIR"] in mounts, role
    compose_config = COMPOSE["x-agentcoord-config-volume"]
    assert (DEPLOY / compose_config["source"]).resolve() == CONFIG_DIR
    for name, service in _compose_agentcoord():
        env, targets = service["environment"], [v["target"] if isinstance(v, dict) else v.split(":")[1]
                                                 for v in service.get("volumes", [])]
        for key in ("AGENTCOORD_AGENTS_FILE", "AGENTCOORD_POLICY_FILE", "AGENTCOORD_PRICES_FILE"):
            if key in env:
                assert str(Path(env[key]).parent) in targets and (CONFIG_DIR / Path(env[key]).name).is_file(), name


def test_deployment_config_files_are_valid_and_consistent() -> None:
    agents = load_agents(CONFIG_DIR / "agents.yaml")
    prices = load_price_table(CONFIG_DIR / "prices.yaml")
    assert {a.model for a in agents} <= set(prices.versions)
    policy = load_policy(CONFIG_DIR / "policy.yaml")
    for task in load_mission_file(REPO / "examples" / "missions" / "hello.yaml").tasks:
        assert policy.decide(ActionRequest(kind=task.action.kind, paths=task.action.paths)).effect is Effect.ALLOW
    cases = {
        ActionRequest(kind="deploy", environment="production"): Effect.DENY,
        ActionRequest(kind="edit", paths=("agentcoord/store/migrations/0009_x.sql",)): Effect.REQUIRE_REVIEW,
        ActionRequest(kind="command", command="git push origin main --force"): Effect.DENY,
        ActionRequest(kind="network", command="https://example.com"): Effect.DENY,
    }
    assert {request: policy.decide(request).effect for request in cases} == cases


def _image_path(path: str) -> Path:
    """A path inside the image back to the repository file the Dockerfile copied there."""
    for source, target in re.findall(r"^COPY (\S+) (/\S+)$", DOCKERFILE, re.MULTILINE):
        if path.startswith(target):
            return REPO / source / path.removeprefix(target)
    raise AssertionError(f"{path} is not copied into the image")


def test_ray_job_entrypoints_parse_with_the_job_modules(monkeypatch, caplog) -> None:
    jobs = {doc["metadata"]["generateName"]: shlex.split(doc["spec"]["entrypoint"]) for doc in RAY_DOCS if doc["kind"] == "RayJob"}
    assert {argv[2] for argv in jobs.values()} == {"agentcoord.jobs.run_missions", "agentcoord.jobs.cost_report"}
    for argv in jobs.values():
        assert argv[:2] == ["python", "-m"]
        importlib.import_module(argv[2])
    (missions,) = [a[3:] for a in jobs.values() if a[2].endswith("run_missions")]

    class Parsed(Exception):
        pass

    def stop(_config: Config) -> None:
        raise Parsed  # the arguments parsed and the mission files loaded

    monkeypatch.setattr(run_missions, "resolve_database", stop)
    with pytest.raises(Parsed):
        run_missions.main([str(_image_path(a)) if a.startswith("/") else a for a in missions])
    (report,) = [a[3:] for a in jobs.values() if a[2].endswith("cost_report")]
    assert cost_report.main(report, config=Config.from_env({})) == 2  # stops only at the missing DATABASE_URL
    assert "DATABASE_URL" in caplog.text
    for module in set(re.findall(r"python -m (agentcoord\.jobs\.\w+)", (DEPLOY / "README.md").read_text())):
        importlib.import_module(module)


def test_ray_jobs_select_the_ray_cluster_and_its_version_matches_the_dependency() -> None:
    cluster = RAYCLUSTER["metadata"]
    for job in (d for d in RAY_DOCS if d["kind"] == "RayJob"):
        assert job["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["name"]}
        assert cluster["labels"]["ray.io/cluster"] == cluster["name"]
        # KubeRay rejects a TTL unless the job owns (and shuts down) its cluster.
        assert "ttlSecondsAfterFinished" not in job["spec"] or job["spec"].get("shutdownAfterJobFinishes")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    (ray,) = [Requirement(r) for r in pyproject["project"]["dependencies"] if r.startswith("ray")]
    assert ray.specifier.contains(RAYCLUSTER["spec"]["rayVersion"])


def test_compose_dependencies_exist_and_have_health_checks() -> None:
    services = COMPOSE["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, name
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
    assert set(COMPOSE["volumes"]) == {
        v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if isinstance(v, str)
    }
    (url,) = {s["environment"]["DATABASE_URL"] for s in services.values() if "DATABASE_URL" in s.get("environment", {})}
    (host,) = re.findall(r"@([^:/]+)", url)
    postgres = services[host]
    pg_env = postgres["environment"]
    assert postgres["image"].startswith("pgvector/pgvector:")
    assert url.startswith(f"postgresql://{pg_env['POSTGRES_USER']}:{pg_env['POSTGRES_PASSWORD']}@")
    assert url.endswith(f"/{pg_env['POSTGRES_DB']}")


def test_dockerfile_matches_the_package_and_the_manifests() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    (script,) = pyproject["project"]["scripts"]
    assert re.findall(r'^ENTRYPOINT \["(\S+)"\]$', DOCKERFILE, re.MULTILINE) == [script]
    (python,) = re.findall(r"^FROM python:(\d+\.\d+)-slim$", DOCKERFILE, re.MULTILINE)
    assert SpecifierSet(pyproject["project"]["requires-python"]).contains(f"{python}.0")
    (user,) = re.findall(r"^USER (\d+):\d+$", DOCKERFILE, re.MULTILINE)
    assert user != "0"
    included = {line[1:].strip("/") for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
                if line.startswith("!")}
    for sources in re.findall(r"^COPY (.+) \S+$", DOCKERFILE, re.MULTILINE):
        for source in sources.split():
            assert (REPO / source).exists() and source.strip("/") in included, source
    (dashboard_path,) = set(re.findall(r"(/opt/agentcoord/\w+\.py)", DOCKERFILE))
    kube_dashboard = [c["command"] for _, _, c in _containers() if "command" in c]
    compose_dashboard = [[*s["entrypoint"], *s["command"]] for _, s in _compose_agentcoord()
                         if s.get("entrypoint") == ["panel"]]
    assert len(kube_dashboard + compose_dashboard) == 2
    for command in kube_dashboard + compose_dashboard:
        assert command[:3] == ["panel", "serve", dashboard_path]
    assert 'if __name__.startswith("bokeh")' in (REPO / "dashboard" / "app.py").read_text()
    assert {s["image"] for _, s in _compose_agentcoord()} == {IMAGE}


def test_kustomization_lists_every_manifest() -> None:
    listed = set(KUSTOMIZATION["resources"])
    on_disk = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk
    for doc in KUBE_DOCS + RAY_DOCS:
        assert doc["apiVersion"] and doc["kind"] and ("name" in doc["metadata"] or "generateName" in doc["metadata"])
