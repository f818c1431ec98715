"""The common library of the County Pharmacy & Logistics Hub: config, db, bus, events, auth, web."""
