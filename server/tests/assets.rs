//! The built site as a browser gets it from the real server: the page links the content-hashed files
//! that `assets.json` names (as scripts/build-app.sh writes them), those come compressed and cached for
//! good, everything else is revalidated; and the page may open `cargo leptos watch`'s live-reload
//! socket only while watching.

mod common;

use common::TestApp;
use server::config::LiveReload;
use std::io::{BufRead, Read};
use std::path::Path;

const JS: &str = "app.0123456789abcdef";
const CSS: &str = "pkg/app.fedcba9876543210.css";
const OPENVIDU: &str = "js/openvidu-browser.00112233445566aa.min.js";

/// A site as scripts/build-app.sh lays it out, with stand-ins for the built files (large enough to be
/// worth compressing).
fn write_site(root: &Path) {
    let body = |what: &str| format!("/* {what} */\n").repeat(200);
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::create_dir_all(root.join("js")).unwrap();
    std::fs::write(root.join(format!("pkg/{JS}.js")), body("loader")).unwrap();
    std::fs::write(root.join(format!("pkg/{JS}_bg.wasm")), body("wasm")).unwrap();
    std::fs::write(root.join(CSS), body("css")).unwrap();
    std::fs::write(root.join(OPENVIDU), body("openvidu-browser")).unwrap();
    std::fs::write(
        root.join("assets.json"),
        format!(
            "{{\"output_name\": \"{JS}\", \"css\": \"{CSS}\", \"openvidu\": \"{OPENVIDU}\"}}\n"
        ),
    )
    .unwrap();
}

async fn get(app: &TestApp, path: &str, encoding: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(format!("{}{path}", app.base));
    if let Some(e) = encoding {
        req = req.header("accept-encoding", e);
    }
    req.send().await.unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn the_page_links_hashed_files_that_come_compressed_and_cached_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::settings(dir.path());
    write_site(&settings.site_root);
    let app = TestApp::start_with(settings.clone(), common::small_throttle()).await;

    // The page: always revalidated, links this build's files.
    let res = get(&app, "/", Some("gzip")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), Some("no-cache"));
    assert_eq!(
        header(&res, "content-encoding"),
        None,
        "pages carry nonces and tokens"
    );
    let html = res.text().await.unwrap();
    for link in [
        format!("/{CSS}"),
        format!("/{OPENVIDU}"),
        format!("/pkg/{JS}.js"),
        format!("/pkg/{JS}_bg.wasm"),
    ] {
        assert!(html.contains(&link), "the page links {link}: {html}");
    }

    // Each hashed file: gzip when asked, the same bytes once unpacked, a year's cache.
    for file in [
        format!("pkg/{JS}.js"),
        format!("pkg/{JS}_bg.wasm"),
        CSS.to_string(),
        OPENVIDU.to_string(),
    ] {
        let res = get(&app, &format!("/{file}"), Some("gzip")).await;
        assert_eq!(res.status(), 200, "{file}");
        assert_eq!(header(&res, "content-encoding"), Some("gzip"), "{file}");
        assert_eq!(
            header(&res, "cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{file}"
        );
        let packed = res.bytes().await.unwrap();
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        let original = std::fs::read(settings.site_root.join(&file)).unwrap();
        assert_eq!(unpacked, original, "{file}");
        assert!(packed.len() < original.len() / 4, "{file} is compressed");
    }

    // Brotli for a browser that prefers it; plain for one that asks for nothing.
    let res = get(&app, &format!("/pkg/{JS}_bg.wasm"), Some("br")).await;
    assert_eq!(header(&res, "content-encoding"), Some("br"));
    let res = get(&app, &format!("/{CSS}"), None).await;
    assert_eq!(header(&res, "content-encoding"), None);
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        std::fs::read(settings.site_root.join(CSS)).unwrap()
    );

    // Files without a hash in their name, and hashed names that are not there, are not cached long.
    let res = get(&app, "/assets.json", Some("gzip")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), Some("no-cache"));
    let res = get(&app, "/pkg/app.ffffffffffffffff.css", Some("gzip")).await;
    assert_eq!(res.status(), 404);
    assert_eq!(header(&res, "cache-control"), Some("no-cache"));

    // An address that is neither a page nor a file says so, with the way back.
    for path in ["/call/Room/", "/no-such-page"] {
        let res = get(&app, path, None).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(
            header(&res, "content-type").is_some_and(|t| t.starts_with("text/html")),
            "{path}"
        );
        let page = res.text().await.unwrap();
        assert!(page.contains("There is no such page"), "{path}: {page}");
        assert!(
            page.contains(r#"<a href="/">Go to the start page</a>"#),
            "{path}"
        );
    }
    app.running.shutdown().await;
}

#[tokio::test]
async fn a_manifest_naming_a_missing_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::settings(dir.path());
    write_site(&settings.site_root);
    std::fs::remove_file(settings.site_root.join(CSS)).unwrap();
    let error = server::start(settings, common::small_throttle())
        .await
        .err()
        .expect("a site without its stylesheet must not be served");
    let message = format!("{error:#}");
    assert!(
        message.contains(CSS) && message.contains("build-app.sh"),
        "{message}"
    );
}

/// The sources the page may connect to (its CSP `connect-src`).
fn connect_src(res: &reqwest::Response) -> Vec<String> {
    let csp = header(res, "content-security-policy").expect("a CSP");
    let directive = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("connect-src"))
        .unwrap_or_else(|| panic!("no connect-src in {csp}"));
    directive
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn only_a_watched_page_may_open_the_live_reload_socket() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let res = get(&app, "/", None).await;
    assert_eq!(connect_src(&res), ["'self'"]);
    app.running.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings(dir.path());
    settings.live_reload = Some(LiveReload {
        port: 5123,
        secure: false,
    });
    let app = TestApp::start_with(settings, common::small_throttle()).await;
    let res = get(&app, "/", None).await;
    assert_eq!(connect_src(&res), ["'self'", "ws://127.0.0.1:5123"]);
    app.running.shutdown().await;
}

/// The real binary, as `cargo leptos watch` runs it (with `env`) or as an operator does (without):
/// the page it serves and that page's CSP `connect-src`.
async fn page_of_binary(env: &[(&str, &str)]) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .arg("--site-root")
        .arg(dir.path().join("site"))
        .env_remove("OPENVIDU_URL")
        .env_remove("OPENVIDU_SECRET")
        .env_remove("LEPTOS_WATCH")
        .env_remove("LEPTOS_RELOAD_PORT")
        .env_remove("LEPTOS_OUTPUT_NAME")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the server binary runs");
    // It prints "Open <url> in a browser." once it serves.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line
                .strip_prefix("Open ")
                .and_then(|l| l.strip_suffix(" in a browser."))
            {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let url = rx.recv_timeout(common::WAIT);
    let page = match &url {
        Ok(url) => {
            let res = reqwest::get(format!("{url}/")).await.unwrap();
            let connect = connect_src(&res);
            Ok((res.text().await.unwrap(), connect))
        }
        Err(e) => Err(format!("the server did not start: {e}")),
    };
    let _ = child.kill();
    let _ = child.wait();
    page.unwrap()
}

#[tokio::test]
async fn under_cargo_leptos_watch_the_page_opens_the_reload_socket() {
    let (html, connect) =
        page_of_binary(&[("LEPTOS_WATCH", "true"), ("LEPTOS_RELOAD_PORT", "5123")]).await;
    assert!(html.contains("/live_reload"), "the reload script: {html}");
    assert!(
        html.contains("(5123, 'ws://')"),
        "on the reload port: {html}"
    );
    assert_eq!(connect, ["'self'", "ws://127.0.0.1:5123"]);

    let (html, connect) = page_of_binary(&[]).await;
    assert!(!html.contains("/live_reload"), "{html}");
    assert_eq!(connect, ["'self'"]);
}
