//! `server user add|list|remove|set-role`: account management on the same SQLite database the server
//! uses. Each change is recorded there, and a server running on that database ends the user's
//! connections within its `--user-watch-interval`, even when this command runs as another process.

use crate::config::UserCommand;
use anyhow::Context;
use app::backend::open_db;
use app::backend::users::Users;
use app::model::Role;
use std::io::{BufRead, IsTerminal};

pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    let data = match &command {
        UserCommand::Add { data, .. }
        | UserCommand::List { data }
        | UserCommand::Remove { data, .. }
        | UserCommand::SetRole { data, .. } => data.clone(),
    };
    std::fs::create_dir_all(&data.data_dir)?;
    let users = Users::open(open_db(&data.data_dir.join("app.db")).await?).await?;
    match command {
        UserCommand::Add { name, role, .. } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let password = read_password()?;
            users.upsert(&name, &password, role).await?;
            println!(
                "user {} saved with role {role}",
                app::backend::users::normalize_name(&name)
            );
        }
        UserCommand::List { .. } => {
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
