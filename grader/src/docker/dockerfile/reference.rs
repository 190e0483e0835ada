//! Image references as Docker normalises them, and the allow-list's patterns.

/// The images a lab allows: patterns matched against normalised references.
///
/// A pattern is normalised as a reference is (`python:3.12-slim` is
/// `docker.io/library/python:3.12-slim`), except that a pattern with a wildcard
/// gets no implicit `:latest`. `*` matches any run of characters and `?` one
/// character, neither crossing `/`: `mlops-local/*` allows
/// `mlops-local/static:nonroot` but not `mlops-local/a/b:1`, and no pattern
/// reaches another registry than the one it names. A pattern without a wildcard
/// allows exactly one reference (`python:3.12-slim` does not allow
/// `python:3.12-slim-evil`, nor the same tag pinned by a digest).
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    /// (as given, normalised)
    pub(super) patterns: Vec<(String, String)>,
}

impl AllowList {
    /// Patterns with `*` (and `?`) wildcards that never cross `/`, matched against the
    /// normalised reference. A pattern that is no reference (with each wildcard
    /// read as a letter) is an error.
    pub fn new(patterns: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, String> {
        let patterns = patterns
            .into_iter()
            .map(|p| {
                let p = p.as_ref();
                normalise_pattern(p).map(|n| (p.to_string(), n))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns })
    }

    /// Whether `reference` (normalised first) matches a pattern.
    pub fn allows(&self, reference: &str) -> bool {
        normalise(reference).is_some_and(|r| self.patterns.iter().any(|(_, p)| glob(p, &r)))
    }
}

/// Docker's normalisation: `python:3.12` -> `docker.io/library/python:3.12`,
/// `mlops-local/static:nonroot` -> `docker.io/mlops-local/static:nonroot`; a first
/// component with `.` or `:`, equal to `localhost` or with capitals is a registry
/// host; no tag and no digest -> `:latest`; digests are kept. `None` for what Docker
/// would not accept as a reference (and for IPv6 hosts and digests other than
/// sha256/384/512, which are refused rather than read).
pub fn normalise(reference: &str) -> Option<String> {
    // A 64-hex string is an image id to Docker, never a name.
    if reference.len() == 64 && reference.bytes().all(is_lower_hex) {
        return None;
    }
    let (domain, remainder) = split_domain(reference);
    let (name, digest) = match remainder.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (remainder.as_str(), None),
    };
    let (path, tag) = match name.split_once(':') {
        Some((p, t)) => (p, Some(t)),
        None => (name, None),
    };
    let valid = valid_domain(&domain)
        && path.split('/').all(valid_path_component)
        && tag.is_none_or(valid_tag)
        && digest.is_none_or(valid_digest)
        && domain.len() + 1 + path.len() <= 255;
    if !valid {
        return None;
    }
    Some(match (tag, digest) {
        (None, None) => format!("{domain}/{path}:latest"),
        _ => format!("{domain}/{remainder}"),
    })
}

/// Docker's `splitDockerDomain`: the registry host and the path, `library/` added
/// for Docker Hub's official images.
pub(super) fn split_domain(reference: &str) -> (String, String) {
    let (domain, rest) = match reference.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => ("docker.io", reference),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    let rest = if domain == "docker.io" && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest.to_string()
    };
    (domain.to_string(), rest)
}

/// Host components and an optional port (IPv6 hosts are not read).
pub(super) fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    let component = |c: &str| {
        !c.is_empty()
            && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !c.starts_with('-')
            && !c.ends_with('-')
    };
    port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && host.split('.').all(component)
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or dashes.
pub(super) fn valid_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ends = component.starts_with(alnum) && component.ends_with(alnum);
    let chars = component
        .chars()
        .all(|c| alnum(c) || matches!(c, '.' | '_' | '-'));
    let separators = (component.split(alnum).filter(|s| !s.is_empty()))
        .all(|s| s == "." || s == "_" || s == "__" || s.bytes().all(|b| b == b'-'));
    ends && chars && separators
}

pub(super) fn valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    tag.len() <= 128
        && tag.starts_with(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-')
}

pub(super) fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len && hex.bytes().all(is_lower_hex)
}

pub(super) fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

pub(super) fn normalise_pattern(pattern: &str) -> Result<String, String> {
    let probe = pattern.replace(['*', '?'], "a");
    let exact = normalise(&probe).ok_or_else(|| {
        format!("{pattern:?} is not an image pattern (e.g. python:3.12-slim or mlops-local/*)")
    })?;
    if probe == pattern {
        return Ok(exact);
    }
    let (domain, rest) = split_domain(pattern);
    Ok(format!("{domain}/{rest}"))
}

/// `*` matches any run and `?` one character, neither crossing `/`.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // reach[j]: the pattern read so far matches text[..j].
    let mut reach = vec![false; text.len() + 1];
    if let Some(first) = reach.first_mut() {
        *first = true;
    }
    for p in pattern.chars() {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            let prev = j.checked_sub(1).and_then(|k| text.get(k).map(|&c| (k, c)));
            next[j] = match (p, prev) {
                ('*', None) => reach[j],
                ('*', Some((k, c))) => reach[j] || (next[k] && c != '/'),
                ('?', Some((k, c))) => reach[k] && c != '/',
                (p, Some((k, c))) => reach[k] && c == p,
                (_, None) => false,
            };
        }
        reach = next;
    }
    reach.last().copied().unwrap_or(false)
}
