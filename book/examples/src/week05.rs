//! Week 5: dotfiles rendered for a profile and installed idempotently.
//!
//! A small model of what Dotdrop does: a YAML configuration lists dotfiles
//! (a template in the repository and a destination under `~`) and profiles
//! (which dotfiles a machine gets, and the variables its templates see).
//! [`render_profile`] turns a profile into file contents; [`install`] writes
//! them under a home folder, touching only files whose content differs, so a
//! second install changes nothing; [`compare`] reports what differs, like
//! `dotdrop compare`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

// ANCHOR: config
/// The part of a Dotdrop `config.yaml` this example understands.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Variables every profile sees; a profile's own variables override them.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Dotfiles by key, such as `f_gitconfig`.
    pub dotfiles: BTreeMap<String, DotfileEntry>,
    /// Profiles by name, such as `laptop`.
    pub profiles: BTreeMap<String, ProfileEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DotfileEntry {
    /// Template path inside the dotfiles folder (Dotdrop's `dotpath`).
    pub src: String,
    /// Where it is installed, such as `~/.gitconfig`.
    pub dst: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    /// Dotfile keys, or `ALL` for every dotfile.
    pub dotfiles: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}
// ANCHOR_END: config

#[derive(Debug, thiserror::Error)]
pub enum DotfilesError {
    #[error("invalid configuration: {0}")]
    Config(#[from] serde_yaml_ng::Error),
    #[error("no profile named `{0}`")]
    UnknownProfile(String),
    #[error("profile `{profile}` lists `{key}`, which is not a dotfile")]
    UnknownDotfile { profile: String, key: String },
    #[error("destination `{0}` must start with `~/`")]
    Destination(String),
    #[error("cannot read template `{path}`: {source}")]
    ReadTemplate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template `{key}` failed to render: {source}")]
    Render {
        key: String,
        source: minijinja::Error,
    },
    #[error("cannot read the installed `{path}`: {source}")]
    ReadInstalled {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Parses a configuration from YAML text.
pub fn parse_config(yaml: &str) -> Result<Config, DotfilesError> {
    Ok(serde_yaml_ng::from_str(yaml)?)
}

/// One dotfile rendered for one profile: where it goes and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub key: String,
    /// Destination relative to the home folder (`.gitconfig`).
    pub relative_dst: PathBuf,
    pub content: String,
}

// ANCHOR: environment
/// A template engine set up the way Dotdrop sets up Jinja2: its own
/// delimiters (`{{@@ name @@}}`, `{%@@ if ... @@%}`, `{#@@ ... @@#}`), so
/// that a dotfile's own `{{ }}` or `{% %}` stay untouched; block tags that
/// leave no blank lines; the final newline kept; and an undefined variable
/// an error rather than an empty string.
fn dotdrop_environment() -> Result<minijinja::Environment<'static>, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .block_delimiters("{%@@", "@@%}")
            .variable_delimiters("{{@@", "@@}}")
            .comment_delimiters("{#@@", "@@#}")
            .build()?,
    );
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    Ok(env)
}
// ANCHOR_END: environment

// ANCHOR: render
// ANCHOR: render_variables
/// Renders every dotfile of `profile`, reading templates from `dotpath`.
///
/// The variables a template sees are the global ones, overridden by the
/// profile's, plus `profile` itself, as in Dotdrop.
pub fn render_profile(
    config: &Config,
    profile: &str,
    dotpath: &Path,
) -> Result<Vec<Rendered>, DotfilesError> {
    let entry = config
        .profiles
        .get(profile)
        .ok_or_else(|| DotfilesError::UnknownProfile(profile.to_owned()))?;

    let mut variables = config.variables.clone();
    variables.extend(entry.variables.clone());
    variables.insert("profile".to_owned(), profile.to_owned());

    let keys: Vec<&String> = if entry.dotfiles.iter().any(|key| key == "ALL") {
        config.dotfiles.keys().collect()
    } else {
        entry.dotfiles.iter().collect()
    };
    // ANCHOR_END: render_variables

    // ANCHOR: render_templates
    let env = dotdrop_environment().map_err(|source| DotfilesError::Render {
        key: "(environment)".to_owned(),
        source,
    })?;
    keys.into_iter()
        .map(|key| {
            let dotfile =
                config
                    .dotfiles
                    .get(key)
                    .ok_or_else(|| DotfilesError::UnknownDotfile {
                        profile: profile.to_owned(),
                        key: key.clone(),
                    })?;
            let path = dotpath.join(&dotfile.src);
            let template = fs::read_to_string(&path)
                .map_err(|source| DotfilesError::ReadTemplate { path, source })?;
            let content =
                env.render_str(&template, &variables)
                    .map_err(|source| DotfilesError::Render {
                        key: key.clone(),
                        source,
                    })?;
            Ok(Rendered {
                key: key.clone(),
                relative_dst: relative_destination(&dotfile.dst)?,
                content,
            })
        })
        .collect()
}
// ANCHOR_END: render_templates

// ANCHOR: render_destination
/// `~/.config/git/config` becomes `.config/git/config`. Anything that could
/// leave the home folder (an absolute path, `..`) is refused.
fn relative_destination(dst: &str) -> Result<PathBuf, DotfilesError> {
    let rest = dst
        .strip_prefix("~/")
        .ok_or_else(|| DotfilesError::Destination(dst.to_owned()))?;
    let path = PathBuf::from(rest);
    let stays_inside = path
        .components()
        .all(|part| matches!(part, std::path::Component::Normal(_)));
    if rest.is_empty() || !stays_inside {
        return Err(DotfilesError::Destination(dst.to_owned()));
    }
    Ok(path)
}
// ANCHOR_END: render_destination
// ANCHOR_END: render

// ANCHOR: install
// ANCHOR: install_files
/// What [`install`] did to one dotfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The file did not exist and was created.
    Created,
    /// The file existed with other content and was replaced.
    Updated,
    /// The file already held exactly this content: nothing was written.
    Unchanged,
}

/// Installs rendered dotfiles under `home`. Idempotent: a file that already
/// holds the rendered content is not written at all (its modification time
/// stays), so running it twice reports every file `Unchanged`.
pub fn install(
    rendered: &[Rendered],
    home: &Path,
) -> Result<Vec<(String, Outcome)>, DotfilesError> {
    rendered
        .iter()
        .map(|file| {
            let path = home.join(&file.relative_dst);
            let outcome = match fs::read(&path) {
                Ok(existing) if existing == file.content.as_bytes() => Outcome::Unchanged,
                Ok(_) => Outcome::Updated,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Outcome::Created,
                Err(source) => return Err(DotfilesError::ReadInstalled { path, source }),
            };
            if outcome != Outcome::Unchanged {
                write_atomically(&path, file.content.as_bytes())
                    .map_err(|source| DotfilesError::Write { path, source })?;
            }
            Ok((file.key.clone(), outcome))
        })
        .collect()
}
// ANCHOR_END: install_files

// ANCHOR: install_write
/// Writes to a temporary file beside `path`, then renames it over `path`: a
/// reader sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".dotfiles-tmp");
    let tmp = parent.join(name);
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

/// Keys of the dotfiles whose installed copy is missing or differs, like
/// `dotdrop compare` (which exits 1 when this list is not empty).
pub fn compare(rendered: &[Rendered], home: &Path) -> Vec<String> {
    rendered
        .iter()
        .filter(|file| {
            fs::read(home.join(&file.relative_dst))
                .map_or(true, |existing| existing != file.content.as_bytes())
        })
        .map(|file| file.key.clone())
        .collect()
}
// ANCHOR_END: install_write
// ANCHOR_END: install

#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: fixture
    const CONFIG: &str = r#"
variables:
  git_name: Ada Lovelace
  editor: vim
dotfiles:
  f_gitconfig:
    src: gitconfig
    dst: ~/.gitconfig
  f_bashrc:
    src: bashrc
    dst: ~/.bashrc
profiles:
  laptop:
    dotfiles: [f_gitconfig, f_bashrc]
    variables:
      git_email: ada@home.example
  workstation:
    dotfiles: [ALL]
    variables:
      git_email: ada@lab.example
      editor: nvim
"#;

    const GITCONFIG: &str = "\
[user]
\tname = {{@@ git_name @@}}
\temail = {{@@ git_email @@}}
[core]
\teditor = {{@@ editor @@}}
{%@@ if profile == \"workstation\" @@%}
[commit]
\tgpgsign = true
{%@@ endif @@%}
";
    // ANCHOR_END: fixture

    const BASHRC: &str = "export EDITOR={{@@ editor @@}}\nalias ll='ls -l'\n";

    /// A dotfiles folder with the two templates, in a fresh temporary folder.
    fn dotpath() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temporary folder");
        fs::write(dir.path().join("gitconfig"), GITCONFIG).expect("write template");
        fs::write(dir.path().join("bashrc"), BASHRC).expect("write template");
        dir
    }

    fn config() -> Config {
        parse_config(CONFIG).expect("the fixture parses")
    }

    #[test]
    fn profiles_render_their_own_values() {
        let dots = dotpath();
        let laptop = render_profile(&config(), "laptop", dots.path()).expect("renders");
        let gitconfig = &laptop[0].content;
        assert!(
            gitconfig.contains("email = ada@home.example"),
            "{gitconfig}"
        );
        assert!(gitconfig.contains("editor = vim"));
        assert!(!gitconfig.contains("gpgsign"), "only the workstation signs");

        let workstation = render_profile(&config(), "workstation", dots.path()).expect("renders");
        let gitconfig = &workstation
            .iter()
            .find(|file| file.key == "f_gitconfig")
            .expect("ALL includes the git config")
            .content;
        assert!(
            gitconfig.contains("editor = nvim"),
            "profile overrides global"
        );
        // trim_blocks and lstrip_blocks: the `if` lines leave no blank lines.
        assert!(
            gitconfig.ends_with("[commit]\n\tgpgsign = true\n"),
            "{gitconfig:?}"
        );
    }

    // ANCHOR: idempotent
    #[test]
    fn second_install_changes_nothing() {
        let dots = dotpath();
        let home = tempfile::tempdir().expect("throwaway HOME");
        let rendered = render_profile(&config(), "laptop", dots.path()).expect("renders");

        let first = install(&rendered, home.path()).expect("first install");
        assert!(
            first
                .iter()
                .all(|(_, outcome)| *outcome == Outcome::Created)
        );
        assert!(compare(&rendered, home.path()).is_empty());

        let path = home.path().join(".gitconfig");
        let before = fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        let second = install(&rendered, home.path()).expect("second install");
        assert!(
            second
                .iter()
                .all(|(_, outcome)| *outcome == Outcome::Unchanged)
        );
        let after = fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert_eq!(before, after, "an unchanged file is not rewritten");
    }
    // ANCHOR_END: idempotent

    #[test]
    fn compare_finds_drift_and_install_repairs_it() {
        let dots = dotpath();
        let home = tempfile::tempdir().expect("throwaway HOME");
        let rendered = render_profile(&config(), "laptop", dots.path()).expect("renders");
        install(&rendered, home.path()).expect("install");

        fs::write(home.path().join(".bashrc"), "alias rm='rm -rf'\n").expect("edit by hand");
        assert_eq!(compare(&rendered, home.path()), ["f_bashrc"]);

        let outcomes = install(&rendered, home.path()).expect("reinstall");
        assert!(outcomes.contains(&("f_bashrc".to_owned(), Outcome::Updated)));
        assert!(outcomes.contains(&("f_gitconfig".to_owned(), Outcome::Unchanged)));
        assert!(compare(&rendered, home.path()).is_empty());
    }

    #[test]
    fn undefined_variable_is_an_error_not_an_empty_string() {
        let dots = dotpath();
        let mut config = config();
        config
            .profiles
            .get_mut("laptop")
            .expect("laptop exists")
            .variables
            .clear();
        let err = render_profile(&config, "laptop", dots.path()).expect_err("no git_email");
        assert!(
            matches!(&err, DotfilesError::Render { key, .. } if key == "f_gitconfig"),
            "{err}"
        );
    }

    #[test]
    fn bad_profiles_and_destinations_are_refused() {
        let dots = dotpath();
        assert!(matches!(
            render_profile(&config(), "server", dots.path()),
            Err(DotfilesError::UnknownProfile(_))
        ));
        for dst in ["/etc/passwd", "~/../outside", "~/", ".bashrc"] {
            assert!(relative_destination(dst).is_err(), "{dst}");
        }
        assert_eq!(
            relative_destination("~/.config/git/config").expect("valid"),
            PathBuf::from(".config/git/config")
        );
        assert!(parse_config("dotfiles: {}\nprofiles: {}\nbanner: true\n").is_err());
    }
}
