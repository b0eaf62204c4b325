/*
 * gso-bench.c - does UDP GSO (UDP_SEGMENT, Linux 4.18) raise the rate at
 * which one sender can multicast Ethernet-sized (1 472-byte) datagrams?
 * A measurement for docs/performance.md ("UDP GSO"), not part of the
 * library or the build. Bare UDP, no cohort: the same 44 datagrams a
 * call, sent with sendmmsg() or as one 64 768-byte buffer cut by the
 * kernel. Group 239.195.77.1:47777 on 127.0.0.1, so run it only inside a
 * private network namespace (scripts/gso-bench.sh does).
 *
 *   cc -O2 -o gso-bench scripts/gso-bench.c
 *   gso-bench recv SECONDS          count what arrives, print the rate
 *   gso-bench send mmsg|gso SECONDS send for SECONDS, print the rate
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define GROUP "239.195.77.1"
#define PORT 47777
#define DG 1472
#define N 44
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  if(argc<3)return 2;
  double secs=atof(argv[argc-1]);
  int fd=socket(AF_INET,SOCK_DGRAM,0); int one=1, big=64<<20;
  setsockopt(fd,SOL_SOCKET,SO_REUSEADDR,&one,sizeof one);
  struct sockaddr_in g={.sin_family=AF_INET,.sin_port=htons(PORT)}; inet_pton(AF_INET,GROUP,&g.sin_addr);
  struct in_addr lo; inet_pton(AF_INET,"127.0.0.1",&lo);
  if(!strcmp(argv[1],"recv")){
    setsockopt(fd,SOL_SOCKET,SO_RCVBUFFORCE,&big,sizeof big);
    struct sockaddr_in b=g; if(bind(fd,(void*)&b,sizeof b)){perror("bind");return 1;}
    struct ip_mreq m={.imr_multiaddr=g.sin_addr,.imr_interface=lo}; if(setsockopt(fd,IPPROTO_IP,IP_ADD_MEMBERSHIP,&m,sizeof m)){perror("join");return 1;}
    static char buf[64][2048]; struct mmsghdr mm[64]; struct iovec iov[64];
    for(int i=0;i<64;i++){iov[i].iov_base=buf[i];iov[i].iov_len=2048;memset(&mm[i],0,sizeof mm[i]);mm[i].msg_hdr.msg_iov=&iov[i];mm[i].msg_hdr.msg_iovlen=1;}
    struct timeval tv={0,200000}; setsockopt(fd,SOL_SOCKET,SO_RCVTIMEO,&tv,sizeof tv);
    long n=0,bytes=0; double t0=0,t1=0,end=now()+secs+3;
    while(now()<end){int r=recvmmsg(fd,mm,64,0,NULL); if(r<=0){if(n)break;continue;} if(!n)t0=now(); for(int i=0;i<r;i++)bytes+=mm[i].msg_len; n+=r; t1=now();}
    printf("recv %ld datagrams %.0f/s (%.1f MB/s) avg %ld B\n",n,n/(t1-t0),bytes/(t1-t0)/1e6,n?bytes/n:0); return 0;
  }
  setsockopt(fd,SOL_SOCKET,SO_SNDBUFFORCE,&big,sizeof big);
  setsockopt(fd,IPPROTO_IP,IP_MULTICAST_IF,&lo,sizeof lo);
  int loop=1; setsockopt(fd,IPPROTO_IP,IP_MULTICAST_LOOP,&loop,sizeof loop);
  static char data[N*DG]; memset(data,'x',sizeof data);
  int gso=!strcmp(argv[2],"gso"); long sent=0, calls=0; double t0=now(), end=t0+secs;
  if(gso){ int seg=DG; if(setsockopt(fd,IPPROTO_UDP,UDP_SEGMENT,&seg,sizeof seg)){perror("UDP_SEGMENT");return 1;} }
  struct mmsghdr mm[N]; struct iovec iov[N];
  for(int i=0;i<N;i++){iov[i].iov_base=data+i*DG;iov[i].iov_len=DG;memset(&mm[i],0,sizeof mm[i]);mm[i].msg_hdr.msg_iov=&iov[i];mm[i].msg_hdr.msg_iovlen=1;mm[i].msg_hdr.msg_name=&g;mm[i].msg_hdr.msg_namelen=sizeof g;}
  struct iovec whole={data,sizeof data}; struct msghdr h={.msg_name=&g,.msg_namelen=sizeof g,.msg_iov=&whole,.msg_iovlen=1};
  while(now()<end){
    if(gso){ ssize_t r=sendmsg(fd,&h,0); if(r<0){perror("sendmsg");usleep(100);continue;} sent+=r/DG; }
    else { int r=sendmmsg(fd,mm,N,0); if(r<0){perror("sendmmsg");usleep(100);continue;} sent+=r; }
    calls++;
  }
  double t=now()-t0; printf("send %s: %ld datagrams in %.2f s: %.0f/s (%.1f MB/s), %ld calls\n",argv[2],sent,t,sent/t,sent*DG/t/1e6,calls); return 0;
}
