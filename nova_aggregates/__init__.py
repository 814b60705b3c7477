import warnings

# oslo.messaging (through oslo.service) and tooz (through futurist) import
# eventlet when it is installed, and eventlet warns at import that it is
# deprecated.  We run no eventlet code: the warning only put a dozen lines
# into the output of every command and the server's log.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
