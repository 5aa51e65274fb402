//! User lookup by name in a parsed users file, from empty to many users, with
//! comments and blank lines: each user is found by its exact name, and a prefix,
//! an extension, another case or a comment's text finds nobody.

use latchkey::users::UserDb;

#[test]
fn every_user_is_found_by_exact_name_and_no_other_name_is() {
    for users in [0usize, 1, 2, 3, 7, 8, 9, 20] {
        for comments in [0usize, 1, 6] {
            let mut text = String::new();
            for c in 0..comments {
                text.push_str(&format!("# comment {c}\n\n"));
            }
            for u in 0..users {
                text.push_str(&format!(
                    "user{u} $pbkdf2-sha256$i=1000,l=32$AAAA$BBBB {u} -\n"
                ));
            }
            let Ok(db) = UserDb::parse(&text) else {
                panic!("fixture does not parse: {text}");
            };
            assert_eq!(db.len(), users);
            for u in 0..users {
                let name = format!("user{u}");
                let user = db.get(&name).unwrap_or_else(|| panic!("{name} in {text}"));
                assert_eq!(user.name, name);
                assert_eq!(user.epoch, u as u64);
            }
            for absent in ["user", "user1x", "USER0", "", "user99", "# comment 0"] {
                assert!(db.get(absent).is_none(), "{absent:?} in {users} users");
            }
        }
    }
}
