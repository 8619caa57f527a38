"""The fault suite: drives a realistic mix of events through the running services
(separate processes) while injecting one fault at a time, and prints per scenario
what went in, what came out, and what was lost or duplicated. `make faults`."""
