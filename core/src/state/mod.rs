//! Where the traffic state lives: in this process (memory), in a file shared by the processes of
//! one host, or in Redis shared by a fleet. Writes are compare-and-swap on `version`, so two
//! writers never silently overwrite each other; readers adopt any newer version.

mod file;
mod redis_store;
mod store;

pub use store::Store;
