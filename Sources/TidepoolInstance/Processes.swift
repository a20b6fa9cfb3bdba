// Placeholder entry points; the instance work replaces this file.

/// The template process role.
public enum TemplateProcess {
    public static func run(_ options: InstanceOptions, controlFD: Int32) -> Never {
        fatalError("template not implemented yet")
    }
}

/// The spawned instance process role.
public enum InstanceProcess {
    public static func runSpawned(_ options: InstanceOptions, channelFD: Int32) -> Never {
        fatalError("instance not implemented yet")
    }
}
