"""The files that run ferry (Procfile, compose.yaml, deploy/, .ci/run, README) are valid and agree.

Validated offline against their schemas (the Compose specification, Kubernetes' OpenAPI), and
checked for one name end to end: every service folder in services/ has its console script
`ferry-<folder>`, a Procfile line `<folder>:`, a compose service `<folder>` built from
deploy/Dockerfile, and a manifest deploy/base/<folder>.yaml with probes, resources and a locked-down
security context. The GitHub sandbox (`ferry-sandbox`, the dev-only workspace member dev/sandbox) is not a service
folder but runs beside them: in the Procfile, in compose, and in the local overlay.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "base"
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
INFRA_SERVICES = {"rabbitmq", "postgres"}  # compose services that are not ferry's own
SANDBOX = "sandbox"  # the fake GitHub: a Procfile line and a compose service, but no service folder
SANDBOX_DEMO_TOKEN = re.compile(r"ghp_sandbox[A-Za-z]+\d+")  # `ferry-sandbox --print-config`: fake ones


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{shlex.join(result.args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def procfile() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_-]+):\s*(.+)", line)
        assert match, f"not a Procfile line: {line!r}"
        assert match[1] not in entries, f"Procfile names {match[1]!r} twice"
        entries[match[1]] = match[2]
    return entries


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def manifests() -> list[Path]:
    """Every Kubernetes manifest under deploy/ (kustomizations and env files are not manifests)."""
    return sorted(p for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml")


def kustomize_resources(folder: Path) -> set[Path]:
    """The files a kustomization pulls in, following bases and overlays down."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    found: set[Path] = set()
    for entry in kustomization.get("resources", []):
        target = (folder / entry).resolve()
        assert target.exists(), f"{folder / 'kustomization.yaml'} lists {entry}, which does not exist"
        found |= kustomize_resources(target) if target.is_dir() else {target}
    for generator in kustomization.get("configMapGenerator", []) + kustomization.get("secretGenerator", []):
        for env_file in generator.get("envs", []) + generator.get("files", []):
            assert (folder / env_file).exists(), f"{generator['name']}: {folder / env_file} does not exist"
    return found


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    pod = pod_spec(workload)
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_there_are_services() -> None:
    assert SERVICES, "no services/*/pyproject.toml found"
    assert "status" in SERVICES


def test_compose_file_matches_the_compose_specification() -> None:
    assert_ok(run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml"))


def test_kubernetes_manifests_are_valid() -> None:
    files = manifests()
    assert BASE / "status.yaml" in files
    result = run(str(BIN / "kubernetes-validate"), "--strict", *(str(p.relative_to(ROOT)) for p in files))
    assert_ok(result)
    assert "did not validate" not in result.stdout + result.stderr


def test_every_manifest_is_in_a_kustomization() -> None:
    used = kustomize_resources(BASE) | kustomize_resources(DEPLOY / "overlays" / "local")
    assert BASE.resolve() / "status.yaml" in used
    unused = [str(p.relative_to(ROOT)) for p in manifests() if p.resolve() not in used]
    assert not unused, f"manifests no kustomization includes: {unused}"


def test_procfile_is_accepted_by_honcho() -> None:
    assert_ok(run(str(BIN / "honcho"), "check"))


@pytest.mark.parametrize("service", SERVICES)
def test_one_name_end_to_end(service: str) -> None:
    script = f"ferry-{service}"
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]
    assert project["name"] == script
    assert script in project.get("scripts", {}), f"services/{service}/pyproject.toml has no script {script}"
    assert (BIN / script).exists(), f"console script {script} is not installed in {BIN} (uv sync)"

    command = procfile().get(service)
    assert command is not None, f"Procfile has no line `{service}: ...`"
    assert re.search(rf"(^|[\s/]){re.escape(script)}(\s|$)", command), f"Procfile {service!r} runs {command!r}"

    compose_service = compose()["services"].get(service)
    assert compose_service is not None, f"compose.yaml has no service {service!r}"
    build = compose_service["build"]
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert build["args"]["SERVICE"] == service

    manifest = BASE / f"{service}.yaml"
    assert manifest.exists(), f"no manifest {manifest.relative_to(ROOT)}"
    deployments = [d for d in load_yaml_documents(manifest) if d["kind"] == "Deployment"]
    assert len(deployments) == 1, f"{manifest.name} should hold one Deployment"
    deployment = deployments[0]
    assert deployment["metadata"]["name"] == script
    assert deployment["metadata"]["labels"]["app.kubernetes.io/name"] == service
    assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == service
    images = [c["image"].split(":")[0] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert script in images, f"{manifest.name} runs {images}, not the image {script}"


def test_procfile_and_compose_run_only_real_services_on_distinct_ports() -> None:
    entries = procfile()
    assert sorted(set(entries) - {SANDBOX}) == SERVICES, "Procfile names a service that has no folder, or misses one"
    ports = [re.search(r"FERRY_(?:HTTP|SANDBOX)_PORT=(\d+)", command) for command in entries.values()]
    assert all(ports), "every Procfile line sets its own FERRY_HTTP_PORT"
    numbers = [m[1] for m in ports if m]
    assert len(set(numbers)) == len(numbers), f"Procfile ports collide: {numbers}"
    assert entries["status"].find("FERRY_HTTP_PORT=8000") >= 0, "status keeps 8000, where the CLI looks"
    assert sorted(set(compose()["services"]) - INFRA_SERVICES - {SANDBOX}) == SERVICES


def test_sandbox_runs_beside_the_services_and_gh_seeder_defaults_to_it() -> None:
    command = procfile().get(SANDBOX)
    assert command is not None, "Procfile has no line `sandbox: ...`"
    assert re.search(r"(^|\s)ferry-sandbox(\s|$)", command), f"Procfile sandbox runs {command!r}"
    assert "FERRY_SANDBOX_PORT=8765" in command
    assert "http://127.0.0.1:8765" in procfile()["gh-seeder"], "gh-seeder does not default to the sandbox"

    services = compose()["services"]
    sandbox = services[SANDBOX]
    assert sandbox["build"]["dockerfile"] == "deploy/Dockerfile"
    assert sandbox["build"]["args"] == {"SERVICE": SANDBOX}, "the sandbox image is built from dev/sandbox alone"
    assert sandbox["environment"]["FERRY_SANDBOX_HOST"] == "0.0.0.0"
    seeder = services["gh-seeder"]
    assert seeder["depends_on"][SANDBOX]["condition"] == "service_healthy"
    assert "http://sandbox:8765" in " ".join(seeder["entrypoint"])

    local = DEPLOY / "overlays" / "local"
    assert (local / "sandbox.yaml").resolve() in kustomize_resources(local)
    assert "FERRY_GITHUB_API_URL=http://ferry-sandbox:8765" in (local / "kustomization.yaml").read_text()
    assert BASE / "sandbox.yaml" not in manifests(), "the sandbox belongs in the local overlay, not the base"

    tokens = {
        t
        for account in json.loads(run(str(BIN / "ferry-sandbox"), "--print-config").stdout)["accounts"]
        for t in account["tokens"]
    }
    demo = ",".join(sorted(tokens))
    for where, text in [
        ("Procfile", procfile()["gh-seeder"]),
        ("compose.yaml", " ".join(seeder["entrypoint"])),
        ("secret.example.env", (local / "secret.example.env").read_text()),
    ]:
        found = re.search(r"ghp_sandbox[^\s;\"']*", text)
        assert found, f"{where} lacks the sandbox's tokens"
        assert ",".join(sorted(found[0].split(","))) == demo, f"{where} has {found[0]}, not the sandbox's {demo}"


def test_workloads_are_locked_down_and_probed() -> None:
    for path in manifests():
        for doc in load_yaml_documents(path):
            if doc["kind"] not in {"Deployment", "CronJob"}:
                continue
            where = f"{path.relative_to(ROOT)} {doc['kind']}/{doc['metadata']['name']}"
            assert pod_spec(doc)["securityContext"]["runAsNonRoot"] is True, where
            for container in containers(doc):
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False, where
                assert security["readOnlyRootFilesystem"] is True, where
                assert security["capabilities"]["drop"] == ["ALL"], where
                assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
                assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
                if doc["kind"] == "Deployment" and doc["metadata"]["name"] == f"ferry-{SANDBOX}":
                    # The fake GitHub has no /healthz; its admin endpoint answers while it lives.
                    assert container["livenessProbe"]["httpGet"]["path"] == "/_sandbox/config", where
                    assert container["readinessProbe"]["httpGet"]["path"] == "/_sandbox/config", where
                elif doc["kind"] == "Deployment":
                    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where
                    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where


def test_example_secret_names_every_secret_and_holds_no_real_one() -> None:
    example = DEPLOY / "overlays" / "local" / "secret.example.env"
    keys = dict(
        line.split("=", 1) for line in example.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    assert set(keys) == {"FERRY_AMQP_URL", "FERRY_DATABASE_URL", "FERRY_API_TOKEN", "FERRY_GITHUB_TOKENS",
                         "FERRY_PELOTON_TOKEN_KEY", "FERRY_PELOTON_SEED_CONNECTION", "FERRY_ASSET_SYNC_OWNER_TOKENS",
                         "FERRY_DASHBOARD_SECRET_KEY"}
    text = SANDBOX_DEMO_TOKEN.sub("", example.read_text())  # the sandbox's fake tokens may stay
    assert not re.search(r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_", text), "a real token?"
    referenced = {
        ref["secretKeyRef"]["key"]
        for path in manifests()
        for doc in load_yaml_documents(path)
        if doc["kind"] in {"Deployment", "CronJob"}
        for container in containers(doc)
        for env in container.get("env", [])
        if (ref := env.get("valueFrom")) and "secretKeyRef" in ref
    }
    assert referenced <= set(keys), f"manifests use secret keys the example lacks: {referenced - set(keys)}"


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"^TEST_COMMAND=\((.+)\)$", ci, re.MULTILINE)
    assert match, ".ci/run defines TEST_COMMAND=(...)"
    command = match[1]
    readme = (ROOT / "README.md").read_text()
    top = readme[: readme.find("\n## ", readme.find("\n## ") + 1)]  # the first section: the two commands
    assert re.search(rf"^{re.escape(command)}$", top, re.MULTILINE), f"README's opening lacks `{command}`"
    for service in SERVICES:
        assert f"services/{service}" in readme, f"README's services table lacks services/{service}"


def test_dockerfile_builds_any_service_as_non_root() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG SERVICE$", dockerfile, re.MULTILINE)
    assert re.search(r'uv sync --locked --no-dev .*--package "ferry-\$\{SERVICE\}"', dockerfile)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users, "the image sets no USER"
    assert users[-1].split(":")[0] not in {"0", "root"}, f"the image runs as {users[-1]}"
    pins = set(re.findall(r"uv==([\d.]+)", dockerfile + (ROOT / ".ci" / "run").read_text()))
    assert len(pins) == 1, f"the Dockerfile and .ci/run pin different uv versions: {pins}"


def test_no_service_image_contains_the_sandbox() -> None:
    """The fake upstreams are a dev-only member: neither shared nor any service depends on them."""
    import tomllib

    for pyproject in [ROOT / "shared" / "pyproject.toml", *sorted((ROOT / "services").glob("*/pyproject.toml"))]:
        dependencies = tomllib.loads(pyproject.read_text())["project"].get("dependencies", [])
        assert not [d for d in dependencies if d.startswith("ferry-sandbox")], f"{pyproject} depends on the sandbox"
    assert not (ROOT / "shared" / "src" / "ferry" / "sandbox").exists(), "the sandbox is back in the shared library"


def test_every_cronjob_runs_a_cli_command_that_exists_with_flags_it_has() -> None:
    """A CronJob only publishes a command: a renamed command or flag would fail at 04:15, unseen."""
    cronjobs = [doc for path in manifests() for doc in yaml.safe_load_all(path.read_text())
                if doc and doc["kind"] == "CronJob"]
    for job in cronjobs:
        for container in pod_spec(job)["containers"]:
            argv = container["command"]
            assert argv[0] == "ferry", f"{job['metadata']['name']} does not run the ferry CLI"
            words = [a for a in argv[1:] if not a.startswith("-")]
            command = words[:2]  # `<service> <command>`; everything after is flag values
            shown = subprocess.run([str(BIN / "ferry"), *command, "--help"], capture_output=True, text=True,
                                   env={"COLUMNS": "200", "PATH": str(BIN)})
            assert shown.returncode == 0, f"{job['metadata']['name']}: `ferry {' '.join(command)}` {shown.stderr}"
            for flag in (a.split("=")[0] for a in argv if a.startswith("--")):
                assert flag in shown.stdout, f"{job['metadata']['name']}: `ferry {' '.join(command)}` has no {flag}"
