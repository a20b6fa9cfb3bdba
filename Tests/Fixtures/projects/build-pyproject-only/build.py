open("build.txt", "w").write("built by build.py\n")
