//! Week 6: `seal` and `unseal` with age.
//!
//! [`seal`] encrypts bytes to one or more X25519 recipients (`age1...`) and
//! returns ASCII-armored text, the same format as `age --armor`; [`unseal`]
//! decrypts such text (or binary age files) with the identities of an age key
//! file (`AGE-SECRET-KEY-1...`), such as `age-keygen` writes. Files sealed
//! here open with the `age` command and the other way round.

use std::io::{Read, Write};

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::x25519;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("`{value}` is not an age recipient: {reason}")]
    Recipient { value: String, reason: &'static str },
    #[error("no recipients: a sealed file must be readable by someone")]
    NoRecipients,
    #[error("cannot read the identity file: {0}")]
    Identities(String),
    #[error("encryption failed: {0}")]
    Encrypt(#[from] age::EncryptError),
    #[error("decryption failed: {0}")]
    Decrypt(#[from] age::DecryptError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

// ANCHOR: recipients
/// Parses recipients, one per line, as in a file for `age -R`: blank lines
/// and lines starting with `#` are skipped.
pub fn parse_recipients(text: &str) -> Result<Vec<x25519::Recipient>, SealError> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            line.parse().map_err(|reason| SealError::Recipient {
                value: line.to_owned(),
                reason,
            })
        })
        .collect()
}
// ANCHOR_END: recipients

// ANCHOR: seal
/// Encrypts `plaintext` so that any one of `recipients` can decrypt it, and
/// returns the armored text (`-----BEGIN AGE ENCRYPTED FILE-----`).
///
/// Each call draws a fresh random file key, so sealing the same bytes twice
/// gives two different outputs.
pub fn seal(plaintext: &[u8], recipients: &[x25519::Recipient]) -> Result<String, SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    let encryptor = age::Encryptor::with_recipients(
        recipients
            .iter()
            .map(|recipient| recipient as &dyn age::Recipient),
    )?;

    let mut armored = Vec::new();
    let mut writer = encryptor.wrap_output(ArmoredWriter::wrap_output(
        &mut armored,
        Format::AsciiArmor,
    )?)?;
    writer.write_all(plaintext)?;
    // Both layers must be finished: the age stream writes its last chunk and
    // authentication tag, then the armor writes its closing line.
    writer.finish()?.finish()?;

    Ok(String::from_utf8(armored).expect("armored output is ASCII"))
}
// ANCHOR_END: seal

// ANCHOR: unseal
/// Decrypts a sealed file with the identities in `identity_file` (the text
/// of a key file from `age-keygen`). Accepts armored and binary input.
pub fn unseal(sealed: &[u8], identity_file: &str) -> Result<Vec<u8>, SealError> {
    let identities = age::IdentityFile::from_buffer(identity_file.as_bytes())?
        .into_identities()
        .map_err(|err| SealError::Identities(err.to_string()))?;
    if identities.is_empty() {
        return Err(SealError::Identities("it holds no identity".to_owned()));
    }

    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(sealed))?;
    let mut reader = decryptor.decrypt(identities.iter().map(|identity| identity.as_ref()))?;
    let mut plaintext = Vec::new();
    // Reading checks each chunk's authentication tag: a modified byte
    // anywhere makes this fail instead of returning altered plaintext.
    reader.read_to_end(&mut plaintext)?;
    Ok(plaintext)
}
// ANCHOR_END: unseal

/// A new identity as the text of a key file, in `age-keygen`'s layout, and
/// its recipient.
pub fn generate_identity() -> (String, x25519::Recipient) {
    use age::secrecy::ExposeSecret;
    let identity = x25519::Identity::generate();
    let recipient = identity.to_public();
    let file = format!(
        "# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    (file, recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: tests
    #[test]
    fn sealed_text_is_armored_and_unseals_with_the_right_key() {
        let (identity, recipient) = generate_identity();
        let secret = b"WINE_DB_PASSWORD=correct horse battery staple\n";

        let sealed = seal(secret, &[recipient]).expect("seal");
        assert!(sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(
            sealed
                .trim_end()
                .ends_with("-----END AGE ENCRYPTED FILE-----")
        );
        assert!(!sealed.contains("correct horse"), "no plaintext leaks");

        let opened = unseal(sealed.as_bytes(), &identity).expect("unseal");
        assert_eq!(opened, secret);
    }

    #[test]
    fn the_wrong_key_cannot_unseal() {
        let (_, recipient) = generate_identity();
        let (someone_else, _) = generate_identity();
        let sealed = seal(b"model registry token", &[recipient]).expect("seal");

        let err = unseal(sealed.as_bytes(), &someone_else).expect_err("wrong key");
        assert!(
            matches!(err, SealError::Decrypt(age::DecryptError::NoMatchingKeys)),
            "{err}"
        );
    }
    // ANCHOR_END: tests

    #[test]
    fn every_recipient_can_unseal() {
        let (alice, alice_public) = generate_identity();
        let (ci, ci_public) = generate_identity();
        let sealed = seal(b"shared", &[alice_public, ci_public]).expect("seal");
        for identity in [alice, ci] {
            assert_eq!(
                unseal(sealed.as_bytes(), &identity).expect("unseal"),
                b"shared"
            );
        }
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let (_, recipient) = generate_identity();
        let a = seal(b"same", std::slice::from_ref(&recipient)).expect("seal");
        let b = seal(b"same", &[recipient]).expect("seal");
        assert_ne!(a, b, "a fresh file key every time");
    }

    #[test]
    fn a_modified_file_is_refused() {
        let (identity, recipient) = generate_identity();
        let sealed = seal(&[7u8; 200], &[recipient]).expect("seal");
        // Flip one base64 character in the last full line of the body.
        let mut lines: Vec<String> = sealed.lines().map(str::to_owned).collect();
        let target = lines.len() - 3;
        let flipped: String = lines[target]
            .chars()
            .enumerate()
            .map(|(i, c)| match (i, c) {
                (10, 'A') => 'B',
                (10, _) => 'A',
                (_, c) => c,
            })
            .collect();
        lines[target] = flipped;
        let tampered = lines.join("\n") + "\n";
        assert!(unseal(tampered.as_bytes(), &identity).is_err());
    }

    #[test]
    fn recipient_files_skip_comments_and_reject_garbage() {
        let (_, recipient) = generate_identity();
        let file = format!("# the course's key\n\n{recipient}\n");
        assert_eq!(parse_recipients(&file).expect("parses").len(), 1);

        let err = parse_recipients("age1notakey").expect_err("invalid");
        assert!(matches!(err, SealError::Recipient { .. }), "{err}");
        assert!(matches!(seal(b"x", &[]), Err(SealError::NoRecipients)));
        assert!(matches!(
            unseal(b"irrelevant", "# only a comment\n"),
            Err(SealError::Identities(_))
        ));
    }
}
