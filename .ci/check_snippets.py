"""Every Rust snippet of the READMEs, built and run in a fresh crate as a new user would: its
dependencies are exactly the README's own `[dependencies]` block, with loopbridge and
loopbridge-tokio patched to this checkout, and nothing else (no dev-dependency of ours leaks in,
as it would into a doctest).

A snippet with a `fn main` is a program as it stands; one of items only gets an empty
`fn main`; one with statements at its top level is wrapped in
`fn main() -> Result<(), Box<dyn std::error::Error>> { ... Ok(()) }`, as rustdoc wraps a
doctest. Each becomes an example of the fresh crate: `cargo run` runs it (its assertions
included), and `cargo test` builds it as a test too, so the `#[test]`s a snippet's macros make
run as well. A fence tagged `rust,no_run` is only built, both ways; `rust,ignore` is skipped.
The conformance crate's README adds its `[dev-dependencies]` block, as an adapter's author
would.

usage: python3 .ci/check_snippets.py TARGET_DIR
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
READMES = [ROOT / "README.md", ROOT / "runtime-adapters/tokio/README.md",
           ROOT / "conformance/README.md"]
# Top-level lines that are items, not statements, though they end with `;`: a `static` (the
# leak harness's allocator) and the macros that make test modules.
ITEMS = ("use ", "//", "}", "static ", "const ", "conformance_suite!(")
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.M | re.S)


def fences(path):
    for match in FENCE.finditer(path.read_text()):
        yield match.group(1).strip(), match.group(2)


def dependencies():
    """The `[dependencies]` block of the main README: what a new user puts in Cargo.toml."""
    blocks = [body for tag, body in fences(READMES[0]) if tag == "toml" and "[dependencies]" in body]
    if len(blocks) != 1:
        sys.exit("README.md must hold exactly one ```toml block with [dependencies]")
    return blocks[0]


def dev_dependencies():
    """The `[dev-dependencies]` block of the conformance crate's README: what an adapter's
    author adds."""
    blocks = [body for tag, body in fences(READMES[2])
              if tag == "toml" and "[dev-dependencies]" in body]
    if len(blocks) != 1:
        sys.exit("conformance/README.md must hold exactly one ```toml block with [dev-dependencies]")
    return blocks[0]


def program(body):
    if re.search(r"^\s*fn main\s*\(", body, re.M):
        return body
    statements = [line for line in body.splitlines()
                  if line and not line[0].isspace() and not line.startswith(ITEMS)
                  and (line.startswith("let ") or line.rstrip().endswith(";"))]
    if not statements:
        # Items only (a module, a macro that makes tests): they stay at the top level, where
        # `super::*` in a macro's module sees them.
        return f"{body}\nfn main() {{}}\n"
    indented = "".join(f"    {line}\n" if line.strip() else "\n" for line in body.splitlines())
    return ("#[allow(unused)]\nfn main() -> Result<(), Box<dyn std::error::Error>> {\n"
            f"{indented}    Ok(())\n}}\n")


def main():
    target = pathlib.Path(sys.argv[1]).resolve()
    crate = target / "snippets"
    shutil.rmtree(crate, ignore_errors=True)
    (crate / "examples").mkdir(parents=True)
    (crate / "src").mkdir()
    (crate / "src/lib.rs").write_text("")
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "readme-snippets"\nversion = "0.0.0"\nedition = "2024"\n'
        "publish = false\n\n[workspace]\n\n"
        f"{dependencies()}\n{dev_dependencies()}\n"
        "[patch.crates-io]\n"
        f'loopbridge = {{ path = "{ROOT}" }}\n'
        f'loopbridge-tokio = {{ path = "{ROOT / "runtime-adapters/tokio"}" }}\n'
        f'loopbridge-conformance = {{ path = "{ROOT / "conformance"}" }}\n')
    # The checkout's versions, so that the fresh crate builds what CI tested.
    shutil.copy(ROOT / "Cargo.lock", crate / "Cargo.lock")
    run, build_only = [], []
    for readme in READMES:
        for n, (tag, body) in enumerate(fences(readme)):
            tags = [t.strip() for t in tag.split(",")]
            if tags[0] != "rust" or "ignore" in tags:
                continue
            name = f"{readme.parent.name.replace('-', '_')}_{n}"
            (crate / "examples" / f"{name}.rs").write_text(
                f"// From {readme.relative_to(ROOT)}, block {n}.\n{program(body)}")
            (build_only if "no_run" in tags else run).append(name)
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    cargo = ["cargo", "--quiet"]
    # Built as programs and as tests (the `#[test]`s a macro makes exist only in the latter);
    # only the snippets not tagged `no_run` run, as programs and as tests.
    subprocess.run(cargo + ["build", "--examples"], cwd=crate, env=env, check=True)
    subprocess.run(cargo + ["test", "--examples", "--no-run"], cwd=crate, env=env, check=True)
    for name in run:
        print(f"== snippet {name}", flush=True)
        subprocess.run(cargo + ["run", "--example", name], cwd=crate, env=env, check=True)
        subprocess.run(cargo + ["test", "--example", name], cwd=crate, env=env, check=True)
    print(f"{len(run)} snippets ran, {len(build_only)} built only", flush=True)


if __name__ == "__main__":
    main()
