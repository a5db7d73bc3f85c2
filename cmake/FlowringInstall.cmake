# FlowringInstall.cmake - owned by the Install area; filled in as that area lands.
