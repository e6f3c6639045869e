"""Where connections and variables come from (environment, then metastore) and how their secret
values are kept out of task logs and command output."""
