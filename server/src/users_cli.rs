//! `server user add|list|remove|set-role`: account management on the same SQLite database the server
//! uses. Each change is recorded there, and a server running on that database ends the user's
//! connections within its `--user-watch-interval`, even when this command runs as another process.

use crate::config::{DataDir, UserCommand};
use anyhow::Context;
use app::backend::open_db;
use app::backend::users::Users;
use app::model::Role;
use std::io::{BufRead, IsTerminal};

/// The shortest password `user add` takes (the demo accounts' "pass" is the server's own, for loopback
/// only).
pub const MIN_PASSWORD_CHARS: usize = 8;

pub async fn run(command: UserCommand, data: DataDir) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data.data_dir)?;
    let users = Users::open(open_db(&data.data_dir.join("app.db")).await?).await?;
    match command {
        UserCommand::Add { name, role, .. } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let password = read_password()?;
            check_password(&password)?;
            users.upsert(&name, &password, role).await?;
            println!(
                "user {} saved with role {role}",
                app::backend::users::normalize_name(&name)
            );
        }
        UserCommand::List => {
            for user in users.list().await? {
                println!("{}\t{}", user.name, user.role);
            }
        }
        UserCommand::Remove { name, .. } => {
            if users.remove(&name).await? {
                println!("user {name} removed");
            } else {
                anyhow::bail!("no user {name}");
            }
        }
        UserCommand::SetRole { name, role, .. } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            if users.set_role(&name, role).await? {
                println!("user {name} now has role {role}");
            } else {
                anyhow::bail!("no user {name}");
            }
        }
    }
    Ok(())
}

/// Refuses a password too short to stand a guess; says how long it must be, never what it was.
fn check_password(password: &str) -> anyhow::Result<()> {
    let chars = password.chars().count();
    anyhow::ensure!(
        chars >= MIN_PASSWORD_CHARS,
        "the password must have at least {MIN_PASSWORD_CHARS} characters (it has {chars}); nothing was changed"
    );
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_password_is_refused_without_being_echoed() {
        let e = check_password("1234567").unwrap_err().to_string();
        assert!(e.contains("at least 8 characters"), "{e}");
        assert!(!e.contains("1234567"), "{e}");
        // Characters, not bytes: eight accented letters will do.
        assert!(check_password("éééééééé").is_ok());
        assert!(check_password("correct horse").is_ok());
    }
}
