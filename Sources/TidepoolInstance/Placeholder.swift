enum InstancePlaceholder {}
