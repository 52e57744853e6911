"""The git commit and uncommitted diff of the trainer's checkout, so a run can be reproduced."""
from pathlib import Path

from neuro_trigger.atomic import write_text

REPO_ROOT = Path(__file__).resolve().parents[2]


def git_state(path: Path = REPO_ROOT) -> tuple[str, str]:
    """(commit id, diff against HEAD including untracked files' names); explanations outside a checkout."""
    try:
        import git

        repo = git.Repo(path, search_parent_directories=True)
    except Exception as e:  # GitPython raises several types (no git binary, no repository)
        reason = f"not a git checkout ({type(e).__name__}): {path}"
        return reason, reason
    try:
        commit = repo.head.commit.hexsha
    except ValueError:
        commit = "no commit yet"
    diff = repo.git.diff("HEAD") if commit != "no commit yet" else ""
    untracked = repo.untracked_files
    if untracked:
        diff += "\n# untracked files:\n" + "\n".join(f"#   {name}" for name in untracked) + "\n"
    return commit, diff


def write_git_state(run_dir: Path) -> str:
    commit, diff = git_state()
    write_text(run_dir / "git_id.txt", commit + "\n")
    write_text(run_dir / "git_diff.txt", diff)
    return commit
