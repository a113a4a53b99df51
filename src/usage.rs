//! Bad input from the user: the error every layer returns for it (one line,
//! exit status 2) and the "did you mean" hint its messages carry. At the
//! bottom of the module graph, so that the plan, the environments and the
//! commands can all refuse input the same way.

/// Bad input from the user: reported as one line, exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// "; did you mean 'X'?" for the name closest to `value` (edit distance at
/// most 2), else for the first name it begins (`triad` → `triad_mbs`),
/// else nothing.
pub fn did_you_mean<'a>(value: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    names
        .iter()
        .map(|n| (strsim::levenshtein(n, value), *n))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
        .or_else(|| {
            (value.chars().count() >= 3)
                .then(|| names.iter().copied().find(|n| n.starts_with(value)))
                .flatten()
        })
        .map(|n| format!("; did you mean '{n}'?"))
        .unwrap_or_default()
}
