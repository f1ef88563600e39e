"""Pure command builders: settings and values in, argument lists out. No I/O here."""
