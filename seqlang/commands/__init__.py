"""One module per `seqlang` command of the front end."""
