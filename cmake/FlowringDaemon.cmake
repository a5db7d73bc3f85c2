# FlowringDaemon.cmake - owned by the Daemon area; filled in as that area lands.
