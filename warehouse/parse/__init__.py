"""Parse: each publisher's layouts read into tidy rows (one module per dataset, ``parse_<dataset>``, and
``batches_<dataset>`` where big files stream), recognised by their content, never by a file's name; a file of no
known layout is refused with the layouts expected."""
