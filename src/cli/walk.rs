//! Finding the audio files under the paths given on the command line.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// File extensions (lower case) that the folder walk treats as audio.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "aif", "aiff", "aifc", "caf", "flac", "mp3", "mp2", "mp1", "mpga", "ogg", "oga",
    "opus", "m4a", "m4b", "mp4", "aac", "alac", "mka", "mkv", "webm",
];

pub fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// Every path to analyse, sorted, and the paths that could not be walked with why.
///
/// A path given explicitly is taken whatever its extension; inside folders only files with an
/// audio extension are taken. Anything with an audio extension that is not a folder is listed
/// (a FIFO, a dangling link …) so that the analysis reports it rather than the walk hiding it.
pub fn audio_files(roots: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for root in roots {
        if !root.is_dir() {
            files.push(root.clone());
            continue;
        }
        for entry in WalkDir::new(root).follow_links(true) {
            match entry {
                Ok(entry) if entry.file_type().is_dir() => {}
                Ok(entry) => {
                    if has_audio_extension(entry.path()) {
                        files.push(entry.into_path());
                    }
                }
                Err(err) => {
                    let path = err
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| root.clone());
                    if has_audio_extension(&path) {
                        // A dangling link, say: the analysis turns it into an `io` record.
                        files.push(path);
                    } else {
                        problems.push((path, err.to_string()));
                    }
                }
            }
        }
    }
    files.sort();
    files.dedup();
    (files, problems)
}
