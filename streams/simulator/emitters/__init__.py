"""Ways the simulator delivers a tick: Kafka (direct), HTTP exposition, HTTP pushes."""
