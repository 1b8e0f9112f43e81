FROM rockylinux:9
RUN ["pip", "install", "--no-cache-dir", "requests==2.32.3"]
ONBUILD RUN service httpd restart # expect: distro
ENTRYPOINT ["/usr/bin/python2.7", "app.py"]
