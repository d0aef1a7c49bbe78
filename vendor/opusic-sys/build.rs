//! Compiles libopus (floating point, portable C, no run-time CPU dispatch) into a static library.
//!
//! The source lists come from libopus's own `*_sources.mk` files, the lists its autotools and
//! meson builds use, so the files compiled are exactly the upstream float build's.

use std::path::Path;

/// (make file, variables in it naming the C files of a float build)
const SOURCE_LISTS: &[(&str, &[&str])] = &[
    ("celt_sources.mk", &["CELT_SOURCES"]),
    ("silk_sources.mk", &["SILK_SOURCES", "SILK_SOURCES_FLOAT"]),
    ("opus_sources.mk", &["OPUS_SOURCES", "OPUS_SOURCES_FLOAT"]),
];

fn main() {
    let root = Path::new("opus");
    let version = std::fs::read_to_string(root.join("package_version"))
        .expect("opus/package_version")
        .trim()
        .trim_start_matches("PACKAGE_VERSION=")
        .to_string();

    let mut build = cc::Build::new();
    build
        .include(root.join("include"))
        .include(root.join("celt"))
        .include(root.join("silk"))
        .include(root.join("silk/float"))
        .include(root.join("src"))
        .define("OPUS_BUILD", None)
        // C99 variable-length arrays for scratch space, as upstream's builds choose when the
        // compiler has them (gcc and clang do).
        .define("VAR_ARRAYS", None)
        .define("HAVE_LRINT", None)
        .define("HAVE_LRINTF", None)
        .define("ENABLE_HARDENING", None)
        .define("PACKAGE_VERSION", Some(version.as_str()))
        .flag_if_supported("-fvisibility=hidden")
        .flag_if_supported("-fno-math-errno")
        .warnings(false);
    for (list, variables) in SOURCE_LISTS {
        let path = root.join(list);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{list}: {e}"));
        for file in make_variables(&text, variables) {
            build.file(root.join(file));
        }
    }
    println!("cargo:rerun-if-changed=opus");
    build.compile("opus");
}

/// The words assigned to `variables` in a make file of `NAME = a \ b \ c` assignments.
fn make_variables<'a>(text: &'a str, variables: &[&str]) -> Vec<&'a str> {
    let mut files = Vec::new();
    let mut current: Option<bool> = None;
    for line in text.lines() {
        let body = match (current, line.split_once('=')) {
            (None, Some((name, rest))) => {
                current = Some(variables.contains(&name.trim()));
                rest
            }
            (Some(_), _) => line,
            (None, None) => continue,
        };
        if current == Some(true) {
            files.extend(body.split_whitespace().filter(|w| *w != "\\"));
        }
        if !line.trim_end().ends_with('\\') {
            current = None;
        }
    }
    files
}
