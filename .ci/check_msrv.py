"""The MSRV in `rust-version` must hold for the dependencies too: every crate the published
crates build on (normal dependencies, all features) must declare a `rust-version` no newer
than ours, or none. Only the current stable toolchain is installed here, so this, clippy's
`incompatible_msrv` lint (std APIs newer than `rust-version`) and edition 2024 (which needs
1.85, our MSRV) are the checks we have."""
import json
import subprocess
import sys


def version(text):
    return tuple(int(part) for part in text.split(".")[:2])


metadata = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1"], check=True, capture_output=True,
    text=True).stdout)
declared = {(p["name"], p["version"]): p.get("rust_version") for p in metadata["packages"]}
ours = version(next(p["rust_version"] for p in metadata["packages"] if p["name"] == "loopbridge"))
newer = []
checked = set()
for crate in ("loopbridge", "loopbridge-conformance", "loopbridge-tokio", "loopbridge-pyo3"):
    tree = subprocess.run(
        ["cargo", "tree", "-e", "normal", "-p", crate, "--prefix", "none", "--all-features"],
        check=True, capture_output=True, text=True).stdout
    for line in tree.splitlines():
        name, ver = line.split()[0], line.split()[1].lstrip("v")
        checked.add((name, ver))
        needs = declared.get((name, ver))
        if needs and version(needs) > ours:
            newer.append(f"{name} {ver} needs Rust {needs}")
if newer:
    sys.exit("dependencies newer than our rust-version:\n  " + "\n  ".join(sorted(set(newer))))
print(f"rust-version {ours[0]}.{ours[1]}: {len(checked)} dependencies declare nothing newer")
