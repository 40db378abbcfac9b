//! `completions` and `man`: generated from the clap definitions, they name every command.

use crate::common::*;

/// The top-level commands of the clap definitions.
fn commands() -> Vec<String> {
    use clap::CommandFactory;
    let names: Vec<String> = trailhound::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    assert!(names.len() >= 15, "{names:?}");
    names
}

#[test]
fn completions_know_every_command() {
    let names = commands();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = run(["completions", shell]);
        assert_eq!(code(&o), 0, "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        for n in &names {
            assert!(script.contains(n.as_str()), "{shell} completion lacks {n}");
        }
        // Nested subcommands and value lists too.
        assert!(script.contains("rollback"), "{shell}: playbook rollback");
        if ["bash", "zsh", "fish"].contains(&shell) {
            assert!(script.contains("timesketch"), "{shell}: format values");
        }
    }
    assert!(stdout(&run(["completions", "bash"])).contains("complete -F _trailhound"));
    let o = run(["completions", "tcsh"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn man_page_lists_every_command() {
    let o = run(["man"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let page = stdout(&o);
    assert!(
        page.starts_with(".ie") || page.contains(".TH trailhound 1"),
        "{}",
        &page[..200]
    );
    assert!(page.contains(".SH SUBCOMMANDS"));
    for n in commands() {
        assert!(
            page.contains(&format!("trailhound\\-{}", n.replace('-', "\\-"))),
            "man lacks {n}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let o = run(["man".as_ref(), "--dir".as_ref(), dir.path().as_os_str()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for page in [
        "trailhound.1",
        "trailhound-hunt.1",
        "trailhound-playbook-run.1",
        "trailhound-securityhub-send.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".SH NAME"), "{page}");
    }
}
