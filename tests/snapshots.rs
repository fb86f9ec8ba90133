//! Snapshots of the text and JSON reports of every capture in captures/, so
//! that any change in what capdoc says shows up in review (`cargo insta review`).

mod common;

fn report(format: &str, capture: &str) -> String {
    let mut args = vec!["analyze", "--format", format];
    let ca = "captures/proxy-ca-set.pem";
    if capture.starts_with("captures/proxy-") {
        args.extend(["--ca-set", ca]);
    }
    args.push(capture);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_capdoc"))
        .args(&args)
        .current_dir(common::project_dir())
        .output()
        .expect("capdoc runs");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn reports_of_every_capture() {
    let dir = common::project_dir().join("captures");
    for path in common::own_captures() {
        let name = path.strip_prefix(&dir).expect("under captures/").display().to_string();
        let relative = format!("captures/{name}");
        insta::assert_snapshot!(format!("{name}.txt"), report("text", &relative));
        insta::assert_snapshot!(format!("{name}.json"), report("json", &relative));
    }
}
