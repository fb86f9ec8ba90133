//! Many captures in one run: folders expanded into captures, captures analysed
//! in parallel and reported in input order, and the report files of `-o DIR`
//! (named without collisions, written atomically).
//!
//! One capture that cannot be read never stops the others: it becomes a report
//! with `error` set, and the exit code says so at the end.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::analyze::{self, Options, Pipeline};
use crate::report::model::CaptureReport;

/// A capture to analyse, with the name reports show for it.
#[derive(Clone, Debug)]
pub struct Input {
    pub path: PathBuf,
    /// As given on the command line, or as found in a folder; `-` is stdin.
    pub shown: String,
    /// File size in bytes (0 for stdin or when unknown), for progress by bytes.
    pub size: u64,
}

/// What walking the inputs found.
#[derive(Debug, Default)]
pub struct Expanded {
    pub captures: Vec<Input>,
    /// What folders held besides captures, and folders that could not be listed.
    pub skipped: Vec<Skipped>,
}

/// A path found in a folder and not analysed, with the reason.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Neither its first bytes nor its name say capture.
    NotACapture,
    /// A named pipe: opening one waits for a writer, possibly forever.
    Fifo,
    /// A character or block device, or a socket: not a file of bytes to read.
    Special,
    /// A symbolic link to nothing.
    BrokenLink,
    /// A folder that could not be listed (permissions, removed while walking).
    UnreadableFolder,
    /// Folders nested deeper than [`MAX_DEPTH`] (almost certainly a symlink loop).
    TooDeep,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::NotACapture => "not a capture",
            SkipReason::Fifo => "a named pipe (FIFO): not opened in a folder, it could wait forever for a writer",
            SkipReason::Special => "a device or socket, not a file",
            SkipReason::BrokenLink => "a symbolic link to nothing",
            SkipReason::UnreadableFolder => "a folder that cannot be listed",
            SkipReason::TooDeep => "folders nested too deep (a symbolic link loop?)",
        }
    }
}

/// Names that say "this was meant to be a capture": such a file found in a folder
/// is analysed (and reported as an error if it is not one) instead of skipped,
/// so a damaged capture in a backlog folder is not silently left out.
const CAPTURE_NAMES: &[&str] = &[
    ".pcap",
    ".pcapng",
    ".cap",
    ".etl",
    ".pcap.gz",
    ".pcapng.gz",
    ".pcap.zst",
    ".pcapng.zst",
];

fn named_like_capture(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    CAPTURE_NAMES.iter().any(|ext| name.ends_with(ext))
}

/// Expands folders (recursively, sorted) into the captures they hold. Files given
/// by name are always analysed, whatever they hold.
pub fn expand(inputs: &[PathBuf]) -> Expanded {
    let mut out = Expanded::default();
    for path in inputs {
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files, &mut out.skipped, 0);
            files.sort();
            for file in files {
                if analyze::looks_like_capture(&file) || named_like_capture(&file) {
                    out.captures.push(input(file));
                } else {
                    out.skipped.push(Skipped {
                        path: file,
                        reason: SkipReason::NotACapture,
                    });
                }
            }
        } else {
            out.captures.push(input(path.clone()));
        }
    }
    out
}

fn input(path: PathBuf) -> Input {
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Input {
        shown: path.display().to_string(),
        path,
        size,
    }
}

/// Folder depth followed; deeper trees are almost certainly a symlink loop.
pub const MAX_DEPTH: usize = 32;

fn walk(dir: &Path, files: &mut Vec<PathBuf>, skipped: &mut Vec<Skipped>, depth: usize) {
    let skip = |path: PathBuf, reason| Skipped { path, reason };
    if depth > MAX_DEPTH {
        skipped.push(skip(dir.to_path_buf(), SkipReason::TooDeep));
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        skipped.push(skip(dir.to_path_buf(), SkipReason::UnreadableFolder));
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Links are followed (a folder of links to captures is common); loops end at MAX_DEPTH.
        let kind = match entry.file_type() {
            Ok(t) if t.is_symlink() => match std::fs::metadata(&path) {
                Ok(m) => m.file_type(),
                Err(_) => {
                    skipped.push(skip(path, SkipReason::BrokenLink));
                    continue;
                }
            },
            Ok(t) => t,
            Err(_) => continue,
        };
        if kind.is_dir() {
            walk(&path, files, skipped, depth + 1);
        } else if kind.is_file() {
            files.push(path);
        } else if is_fifo(kind) {
            skipped.push(skip(path, SkipReason::Fifo));
        } else {
            skipped.push(skip(path, SkipReason::Special));
        }
    }
}

#[cfg(unix)]
fn is_fifo(kind: std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_fifo()
}

#[cfg(not(unix))]
fn is_fifo(_: std::fs::FileType) -> bool {
    false
}

/// Analyses every input with `jobs` threads (None: one per core), calling
/// `done` as each capture finishes (in any order). Reports come back in input order.
pub fn analyze_all(
    inputs: &[Input],
    opts: &Options,
    jobs: Option<usize>,
    done: &(dyn Fn(&Input) + Sync),
) -> io::Result<Vec<CaptureReport>> {
    let one = |input: &Input, opts: &Options| {
        let report = analyze::analyze_path(&input.path, &input.shown, opts);
        done(input);
        report
    };
    if jobs == Some(1) || inputs.len() <= 1 {
        return Ok(inputs.iter().map(|input| one(input, opts)).collect());
    }
    // Captures side by side already keep the cores busy: one thread each, unless asked.
    let side_by_side = Options {
        pipeline: match opts.pipeline {
            Pipeline::Auto => Pipeline::Off,
            chosen => chosen,
        },
        ..opts.clone()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(pool.install(|| inputs.par_iter().map(|input| one(input, &side_by_side)).collect()))
}

/// The stem of each capture's report files (`<stem>.html`, ...), in input order:
/// `<capture file name>.capdoc`, and `<name>-2.capdoc`, `-3`, ... when two captures
/// have the same file name (compared without case, for Windows and macOS).
pub fn report_stems(inputs: &[Input]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    inputs
        .iter()
        .map(|input| {
            let base = match input.path.file_name() {
                Some(name) if input.shown != "-" => name.to_string_lossy().into_owned(),
                _ => "stdin".to_string(),
            };
            // Names come from the file system; keep them out of other folders and hidden files.
            let base: String = base
                .chars()
                .map(|c| {
                    if c == '/' || c == '\\' || c.is_control() {
                        '_'
                    } else {
                        c
                    }
                })
                .collect();
            let base = base.trim_start_matches('.').to_string();
            let mut n = 1;
            loop {
                let stem = if n == 1 {
                    format!("{base}.capdoc")
                } else {
                    format!("{base}-{n}.capdoc")
                };
                if taken.insert(stem.to_lowercase()) {
                    return stem;
                }
                n += 1;
            }
        })
        .collect()
}

/// Bytes buffered before a report is written out: a large report is megabytes of
/// JSON, and fewer, larger writes cost the system less.
pub const WRITE_BUFFER: usize = 256 * 1024;

/// Writes `path` so that a reader sees either the old file or the whole new one:
/// into a temporary file in the same folder, flushed to disk, then renamed over it.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn inputs(paths: &[&str]) -> Vec<Input> {
        paths
            .iter()
            .map(|p| Input {
                path: PathBuf::from(p),
                shown: p.to_string(),
                size: 0,
            })
            .collect()
    }

    #[test]
    fn colliding_names_get_a_number() {
        let stems = report_stems(&inputs(&["a/x.pcap", "b/x.pcap", "c/X.PCAP", "-", ".hidden.pcap"]));
        assert_eq!(
            stems,
            [
                "x.pcap.capdoc",
                "x.pcap-2.capdoc",
                "X.PCAP-3.capdoc",
                "stdin.capdoc",
                "hidden.pcap.capdoc"
            ]
        );
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = std::env::temp_dir().join(format!("capdoc-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.json");
        write_atomic(&path, |w| w.write_all(b"old")).unwrap();
        write_atomic(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let failed = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"new",
            "a failed write leaves the old file"
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn capture_names_are_recognised() {
        assert!(named_like_capture(Path::new("dir/X.PCAPNG")));
        assert!(named_like_capture(Path::new("trace.pcap.gz")));
        assert!(!named_like_capture(Path::new("notes.txt")));
        assert!(!named_like_capture(Path::new("x.pcap.expected.json")));
    }
}
