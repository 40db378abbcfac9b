//! Calls and IAM state for people: the lines that plans, runs and rollbacks print.

use super::plan::Call;

pub(crate) fn indent(s: &str, by: usize) -> String {
    s.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

pub(crate) fn calls_text(calls: &[Call]) -> String {
    let mut t = String::new();
    for (i, c) in calls.iter().enumerate() {
        t.push_str(&format!("  {}. {}\n", i + 1, c.api()));
        for (k, v) in c.params() {
            if v.contains('\n') {
                t.push_str(&format!("       {k}:\n"));
                t.push_str(&indent(&v, 9));
            } else {
                t.push_str(&format!("       {k}: {v}\n"));
            }
        }
        t.push_str(&format!(
            "     same with the AWS CLI:\n       {}\n",
            c.aws_cli()
        ));
    }
    t
}

pub(crate) fn state_text(s: &Option<serde_json::Value>) -> String {
    match s {
        None => "absent".into(),
        Some(serde_json::Value::String(x)) => x.clone(),
        Some(v) => v.to_string(),
    }
}

pub(crate) fn call_line(c: &Call) -> String {
    let ps: Vec<String> = c
        .params()
        .into_iter()
        .filter(|(k, _)| *k != "PolicyDocument")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{} {}", c.api(), ps.join(" "))
}
