enum FrontPlaceholder {}
