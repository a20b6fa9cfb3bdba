def greeting():
    return "hi"
