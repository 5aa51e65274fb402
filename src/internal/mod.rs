//! Not latchkey's API: what the fuzz targets (`fuzz/`) and the integration tests
//! (`tests/it`) reach that the binary keeps private. Nothing here is stable.

pub mod fuzz;

pub use crate::web::pages::style_route;
pub use crate::web::redirect::{RedirectPolicy, safe_next};
pub use crate::web::respond::CSP;
pub use crate::web::static_files::MAX_FILE_SIZE;
