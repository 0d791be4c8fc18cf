//! Safe, unique file names from whatever names users gave their images.

use std::collections::HashSet;

/// What a name becomes when nothing usable is left of it.
const FALLBACK: &str = "image";
/// Longest name kept, in bytes, leaving room for a `-N` suffix and a `.txt`/`.xml` sibling
/// within the 255 bytes most file systems allow.
const MAX_NAME_BYTES: usize = 200;

/// Makes each name a safe base name and unique within the list, deterministically and in order:
///
/// - only the last path component is kept (`/` and `\` both separate; `.`, `..` and empty
///   components are skipped), so `../../etc/passwd` and `C:\x\photo.jpg` become `passwd`
///   and `photo.jpg`;
/// - control characters, bidirectional-text overrides and the characters Windows forbids
///   (`< > : " | ? *`) become `_`; surrounding spaces and dots are trimmed (no hidden files,
///   which many tools skip); Windows device names (`CON`, `nul.txt`, `COM1`...) get a leading
///   `_`; names are cut to 200 bytes (the extension is kept); nothing left gives `image`;
/// - a name whose stem (the name without its last extension) was already used, compared
///   without regard to case, gets `-2`, `-3`... before its extension: `a/photo.jpg`,
///   `b/photo.jpg`, `Photo.png` give `photo.jpg`, `photo-2.jpg`, `Photo-3.png`. Stems are
///   unique because YOLO and VOC name one file per image after them.
pub fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut used = HashSet::new();
    names
        .into_iter()
        .map(|raw| {
            let name = safe_base_name(raw);
            let (stem, ext) = split_ext(&name);
            if used.insert(stem.to_lowercase()) {
                return name;
            }
            (2u64..)
                .map(|n| match ext {
                    Some(ext) => format!("{stem}-{n}.{ext}"),
                    None => format!("{stem}-{n}"),
                })
                .find(|candidate| used.insert(split_ext(candidate).0.to_lowercase()))
                .unwrap_or_else(|| FALLBACK.to_owned())
        })
        .collect()
}

/// The name without its last extension (`a.tar.gz` -> `a.tar`).
pub(crate) fn stem(name: &str) -> &str {
    split_ext(name).0
}

fn split_ext(name: &str) -> (&str, Option<&str>) {
    match name.rfind('.') {
        Some(i) if i > 0 && i + 1 < name.len() => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    }
}

fn safe_base_name(raw: &str) -> String {
    let base = raw
        .split(['/', '\\'])
        .rfind(|c| !matches!(c.trim(), "" | "." | ".."))
        .unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| if is_unsafe(c) { '_' } else { c })
        .collect();
    let trimmed = cleaned.trim().trim_matches(['.', ' ']);
    if trimmed.is_empty() {
        return FALLBACK.to_owned();
    }
    let mut name = truncate(trimmed);
    if is_windows_device(&name) {
        name.insert(0, '_');
    }
    name
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
        // Bidirectional overrides and isolates: they make `gpj.exe` read as `exe.jpg`.
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Cuts the stem (at a character boundary) so the whole name fits in [`MAX_NAME_BYTES`].
fn truncate(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let (stem, ext) = split_ext(name);
    let ext = ext.filter(|e| e.len() <= 16);
    let room = MAX_NAME_BYTES - ext.map_or(0, |e| e.len() + 1);
    let cut = stem
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|end| *end <= room)
        .last()
        .unwrap_or(0);
    let stem = stem[..cut].trim_end_matches(['.', ' ']);
    let stem = if stem.is_empty() { FALLBACK } else { stem };
    match ext {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_owned(),
    }
}

fn is_windows_device(name: &str) -> bool {
    let first = name.split('.').next().unwrap_or(name).trim_end();
    let upper = first.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (upper.len() == 4
            && (upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.as_bytes()[3].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_base_names() {
        let cases = [
            ("photo.jpg", "photo.jpg"),
            ("../../etc/passwd", "passwd"),
            ("/abs/path/img.png", "img.png"),
            (r"C:\Users\me\Pictures\cat.jpeg", "cat.jpeg"),
            ("dir/sub/..", "sub"),
            ("trailing/", "trailing"),
            ("..", "image"),
            ("", "image"),
            ("   ", "image"),
            ("a\u{0}b\nc\td.jpg", "a_b_c_d.jpg"),
            ("what?<>:\"|*.jpg", "what_______.jpg"),
            ("evil\u{202E}gpj.exe", "evil_gpj.exe"),
            ("name. . .", "name"),
            ("  spaced name.jpg  ", "spaced name.jpg"),
            ("CON", "_CON"),
            ("nul.txt", "_nul.txt"),
            ("com3.png", "_com3.png"),
            ("console.png", "console.png"),
            ("photo,1.jpg", "photo,1.jpg"),
            ("=cmd.jpg", "=cmd.jpg"),
            ("ünïcødé 写真.jpg", "ünïcødé 写真.jpg"),
            (".hidden.jpg", "hidden.jpg"),
            ("...", "image"),
        ];
        for (raw, want) in cases {
            assert_eq!(safe_base_name(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn long_names_keep_their_extension_and_char_boundaries() {
        let long = format!("{}.jpeg", "é".repeat(300));
        let name = safe_base_name(&long);
        assert!(name.len() <= MAX_NAME_BYTES, "{}", name.len());
        assert!(name.ends_with("é.jpeg"));
        let no_ext = "x".repeat(500);
        assert_eq!(safe_base_name(&no_ext).len(), MAX_NAME_BYTES);
    }

    #[test]
    fn duplicates_get_numbered_deterministically() {
        let names = unique_names([
            "a/photo.jpg",
            "b/photo.jpg",
            "photo-2.jpg",
            "Photo.PNG",
            "photo",
            "other.jpg",
            "c/photo.jpg",
        ]);
        assert_eq!(
            names,
            [
                "photo.jpg",
                "photo-2.jpg",
                "photo-2-2.jpg",
                "Photo-3.PNG",
                "photo-4",
                "other.jpg",
                "photo-5.jpg",
            ]
        );
        let stems: HashSet<String> = names.iter().map(|n| stem(n).to_lowercase()).collect();
        assert_eq!(stems.len(), names.len());
    }

    #[test]
    fn stems() {
        for (name, want) in [
            ("a.jpg", "a"),
            ("a.tar.gz", "a.tar"),
            (".hidden", ".hidden"),
            ("noext", "noext"),
        ] {
            assert_eq!(stem(name), want);
        }
    }
}
